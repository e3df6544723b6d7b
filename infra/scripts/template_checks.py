#!/usr/bin/env python3
"""Checks of template.yaml that cfn-lint cannot make: what the functions log and what they may do.

    python3 infra/scripts/template_checks.py [template.yaml]

1. Logging: for every allowed LogLevel, the RUST_LOG the functions get (Globals) is rendered and
   read the way tracing-subscriber's EnvFilter reads it (the most specific target prefix wins,
   else the bare level). Our crates must log at the chosen level; the AWS SDK, its HTTP and TLS
   stack and any other crate at INFO at most (aws-smithy-runtime prints request bodies, token
   JSON and OAuth states included, at DEBUG and TRACE).
2. IAM: each function's allowed (action, resource) pairs are exactly the ones below, read off
   the code (functions/*, shared/runtime-aws `Function` and the ports each builds, and the
   store-aws calls behind them). No SAM CRUD policy templates, no wildcard actions, no
   secrets outside the configuration secrets and `<prefix>/tokens/*`. The one `*` resource is
   secretsmanager:BatchGetSecretValue's (the cold start's one read of its configuration
   secrets): IAM scopes that action to no resource, and each secret it returns still needs
   GetSecretValue on it.

Needs PyYAML (cfn-lint brings it into the project's .venv). Exits 1 listing every failure.
"""

import sys
from pathlib import Path

import yaml

LEVELS = ["off", "error", "warn", "info", "debug", "trace"]

OURS = [
    "connec", "connector_sdk", "connectors", "hubspot", "xero", "http_api", "http_client",
    "linking", "mapping", "runtime_aws", "service", "store_aws", "store_embedded", "sync_core",
    "webhooks", "oauth_callback", "webhook", "sync", "sync::handler", "service::receive",
]
# Targets that must never log above INFO: they print requests (bodies, headers).
NOISY = [
    "aws_smithy_runtime::client::orchestrator", "aws_smithy_runtime_api::http::request",
    "aws_smithy_http", "aws_sdk_secretsmanager::operation::put_secret_value",
    "aws_sdk_dynamodb::operation::put_item", "aws_sdk_eventbridge", "aws_config",
    "hyper::proto::h1::io", "hyper_util::client::legacy", "h2::codec", "rustls::conn",
    "reqwest::connect", "lambda_runtime", "lambda_http", "some_other_crate",
]

SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsPrefix}/"
CONFIG_SECRETS = {"secret:ConnecCredentialsSecret", "secret:HubSpotAppSecret", "secret:XeroAppSecret"}
TABLE, INDEX, DEDUPE = "table", "table/index/GSI1", "table[LeadingKeys=DEDUPE#*]"
TOKENS = "secrets:tokens/*"
# The cold start's one read of its configuration secrets (shared/runtime-aws `secrets`).
BATCH_READ = {("secretsmanager:BatchGetSecretValue", "*")}


def pairs(actions, resources):
    return {(a, r) for a in actions for r in resources}


# What each function calls (see the comments on each function's Policies in template.yaml).
EXPECTED = {
    # Linking, and the connector's page: a retry runs the engine, an unlink purges and deletes.
    "OAuthCallbackFunction": pairs(
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
         "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query"],
        [TABLE],
    )
    | pairs(["dynamodb:Query"], [INDEX])
    | pairs(["events:PutEvents"], ["bus"])
    | pairs(["secretsmanager:GetSecretValue"], CONFIG_SECRETS | {"secret:LaunchSecret"})
    | BATCH_READ
    | pairs(
        ["secretsmanager:GetSecretValue", "secretsmanager:CreateSecret",
         "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage",
         "secretsmanager:DeleteSecret"],
        [TOKENS],
    ),
    "WebhookFunction": pairs(["dynamodb:PutItem", "dynamodb:DeleteItem"], [DEDUPE])
    | pairs(["dynamodb:Query"], [INDEX])
    | pairs(["events:PutEvents"], ["bus"])
    | pairs(["secretsmanager:GetSecretValue"], CONFIG_SECRETS)
    | BATCH_READ,
    "SyncFunction": pairs(
        ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
         "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Query"],
        [TABLE],
    )
    | pairs(["dynamodb:Query"], [INDEX])
    | pairs(["events:PutEvents"], ["bus"])
    | pairs(["secretsmanager:GetSecretValue"], CONFIG_SECRETS)
    | BATCH_READ
    | pairs(
        ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
         "secretsmanager:UpdateSecretVersionStage"],
        [TOKENS],
    ),
}


class Tagged(dict):
    """A CloudFormation short-form intrinsic (`!Ref X` -> {"Ref": "X"}, `!Sub s` -> {"Fn::Sub": s})."""


def load(path):
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return Tagged({name: value})

    Loader.add_multi_constructor("!", construct)
    return yaml.load(Path(path).read_text(), Loader=Loader)


def env_filter(text):
    """(default level, {target: level}) of an EnvFilter directive string."""
    default, targets = "off", {}
    for directive in filter(None, (d.strip() for d in text.split(","))):
        if "[" in directive or "{" in directive:
            raise ValueError(f"span or field directive `{directive}` is not checked by this script")
        target, _, level = directive.rpartition("=")
        level = level.lower()
        if level not in LEVELS:
            # A bare target enables everything for it (EnvFilter reads `foo` as `foo=trace`).
            target, level = directive, "trace"
        if target:
            targets[target] = level
        else:
            default = level
    return default, targets


def level_of(target, parsed):
    default, targets = parsed
    matches = [t for t in targets if target.startswith(t)]
    return targets[max(matches, key=len)] if matches else default


def check_logging(template, failures):
    allowed = template["Parameters"]["LogLevel"]["AllowedValues"]
    rust_log = template["Globals"]["Function"]["Environment"]["Variables"].get("RUST_LOG")
    for value in allowed:
        if isinstance(rust_log, dict) and "Fn::FindInMap" in rust_log:
            name, key, second = rust_log["Fn::FindInMap"]
            key = value if key == {"Ref": "LogLevel"} else key
            rendered = template.get("Mappings", {}).get(name, {}).get(key, {}).get(second)
        elif rust_log == {"Ref": "LogLevel"}:
            rendered = value
        else:
            rendered = rust_log
        if not isinstance(rendered, str):
            failures.append(f"LogLevel {value}: RUST_LOG does not render to a string ({rust_log!r})")
            continue
        parsed = env_filter(rendered)
        chosen = value.lower()
        for target in OURS:
            got = level_of(target, parsed)
            if got != chosen:
                failures.append(f"LogLevel {value}: our target `{target}` logs at {got}, not {chosen}")
        for target in NOISY:
            got = level_of(target, parsed)
            if LEVELS.index(got) > LEVELS.index("info"):
                failures.append(
                    f"LogLevel {value}: `{target}` logs at {got} (RUST_LOG={rendered!r}); "
                    "the AWS SDK prints request bodies at debug and trace"
                )


def resource_name(resource):
    if resource == "*":
        return "*"
    if resource == {"Fn::GetAtt": ["Table", "Arn"]}:
        return TABLE
    # An app's secret exists only when the app is deployed: `!If [Cond, !Ref S, !Ref AWS::NoValue]`.
    if isinstance(resource, dict) and "Fn::If" in resource:
        _, present, absent = resource["Fn::If"]
        if absent == {"Ref": "AWS::NoValue"}:
            return resource_name(present)
    if isinstance(resource, dict) and "Ref" in resource:
        return f"secret:{resource['Ref']}"
    if isinstance(resource, dict) and "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        text = resource["Fn::Sub"]
        if text.startswith("${Table.Arn}"):
            return "table" + text[len("${Table.Arn}"):]
        if text.startswith(SECRET_ARN):
            return "secrets:" + text[len(SECRET_ARN):]
        return text
    return repr(resource)


def granted(function, properties, failures):
    found = set()
    for policy in properties.get("Policies", []):
        if not isinstance(policy, dict):
            failures.append(f"{function}: managed policy {policy!r} is not allowed")
            continue
        for name, body in policy.items():
            if name == "EventBridgePutEventsPolicy":
                if body != {"EventBusName": {"Ref": "EventBus"}}:
                    failures.append(f"{function}: PutEvents on {body!r}, not the work bus")
                found.add(("events:PutEvents", "bus"))
            elif name == "Statement":
                for statement in body:
                    if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                        failures.append(f"{function}: unexpected statement form {statement.get('Sid')}")
                    actions = statement["Action"]
                    actions = [actions] if isinstance(actions, str) else actions
                    resources = statement["Resource"]
                    resources = resources if isinstance(resources, list) else [resources]
                    names = [resource_name(r) for r in resources]
                    condition = statement.get("Condition")
                    if condition is not None:
                        keys = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
                        if set(condition) != {"ForAllValues:StringLike"} or not keys:
                            failures.append(f"{function}: unexpected condition {condition!r}")
                        names = [f"{n}[LeadingKeys={'|'.join(keys or [])}]" for n in names]
                    found |= pairs(actions, names)
            else:
                failures.append(f"{function}: policy template {name} is broader than what it calls")
    return found


def check_iam(template, failures):
    functions = {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    if set(functions) != set(EXPECTED):
        failures.append(f"functions {sorted(functions)} are not the ones checked {sorted(EXPECTED)}")
    for function, properties in sorted(functions.items()):
        found = granted(function, properties, failures)
        for action, resource in sorted(found):
            if "*" in action:
                failures.append(f"{function}: wildcard action {action}")
        expected = EXPECTED.get(function, set())
        for action, resource in sorted(found - expected):
            failures.append(f"{function}: may {action} on {resource}, which it never calls")
        for action, resource in sorted(expected - found):
            failures.append(f"{function}: cannot {action} on {resource}, which it calls")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "template.yaml"
    template = load(path)
    failures = []
    check_logging(template, failures)
    check_iam(template, failures)
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        print(f"template checks: {len(failures)} failure(s) in {path}")
        return 1
    print(f"template checks: logging ({len(OURS) + len(NOISY)} targets x every LogLevel) and IAM of "
          f"{len(EXPECTED)} functions ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

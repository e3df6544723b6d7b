#!/usr/bin/env python3
"""Writes the sample events of events/ (see events/README.md). Standard library only.

    python3 events/generate.py            rewrite every events/*.json
    python3 events/generate.py --check    exit 1 if a file differs from what would be written

The HubSpot signature of webhook-hubspot.json is a real v3 signature for the fixed timestamp
below (secret `demo-client-secret`), so it is only *fresh* at that instant; see
events/resign_hubspot.py to re-sign an event for now.
"""

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

ACCOUNT = "123456789012"
REGION = "us-east-1"
API_ID = "abcdef1234"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
TIME = "2026-11-23T10:00:00Z"
TIME_EPOCH_MS = 1795428000000  # 2026-11-23T10:00:00Z
TIME_CLF = "23/Nov/2026:10:00:00 +0000"
TENANT = "default"
BUS = "connector-framework-work"

CONNEC_API_ID = "demo-id"
CONNEC_API_KEY = "demo-key"
HUBSPOT_CLIENT_SECRET = "demo-client-secret"
HUBSPOT_APP_ID = 424242
HUBSPOT_PORTAL_ID = 62515


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def http_event(method, route, raw_path, path_params, query=None, headers=None, body=None, request_id="x"):
    """An API Gateway HTTP API (payload format 2.0) proxy event."""
    query = query or {}
    raw_query = "&".join(f"{k}={v}" for k, v in query.items())
    all_headers = {
        "accept": "*/*",
        "content-length": str(len(body.encode())) if body is not None else "0",
        "host": DOMAIN,
        "user-agent": "curl/8.5.0",
        "x-amzn-trace-id": "Root=1-6742a8a0-0123456789abcdef01234567",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    all_headers.update(headers or {})
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": dict(sorted(all_headers.items())),
    }
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "domainName": DOMAIN,
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.10",
            "userAgent": all_headers["user-agent"],
        },
        "requestId": request_id,
        "routeKey": f"{method} {route}",
        "stage": "$default",
        "time": TIME_CLF,
        "timeEpoch": TIME_EPOCH_MS,
    }
    event["pathParameters"] = path_params
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = False
    return event


def eventbridge_event(detail_type, detail, event_id, source="connector", resources=None):
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": TIME,
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def hubspot_v3_signature(secret, method, uri, body, timestamp_ms):
    message = f"{method}{uri}{body}{timestamp_ms}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------- records

ANN = {
    "id": [
        {"id": "7f3c2a10-8a1b-4c55-9d0e-000000000001", "provider": "connec", "realm": "org-cld-demo"}
    ],
    "group_id": "cld-demo",
    "title": "Ms.",
    "first_name": "Ann",
    "last_name": "Archer",
    "job_title": "CTO",
    "email": {"address": "ann@acme.example"},
    "phone_work": {"landline": "+1 555 0100"},
    "organization_id": [
        {"id": "7f3c2a10-8a1b-4c55-9d0e-0000000000a1", "provider": "connec", "realm": "org-cld-demo"}
    ],
    "status": "ACTIVE",
    "created_at": "2026-11-20T08:30:00.000Z",
    "updated_at": "2026-11-23T10:00:00.000Z",
}

GLOBEX = {
    "id": [
        {"id": "7f3c2a10-8a1b-4c55-9d0e-0000000000b2", "provider": "connec", "realm": "org-cld-other"}
    ],
    "group_id": "cld-other",
    "name": "Globex Ltd",
    "industry": "Manufacturing",
    "number_of_employees": 120,
    "website": {"url": "https://globex.example"},
    "status": "ACTIVE",
    "created_at": "2026-11-21T09:00:00.000Z",
    "updated_at": "2026-11-23T09:58:30.000Z",
}

HUBSPOT_EVENTS = [
    {
        "eventId": 3001001,
        "subscriptionId": 2101,
        "portalId": HUBSPOT_PORTAL_ID,
        "appId": HUBSPOT_APP_ID,
        "occurredAt": TIME_EPOCH_MS - 2000,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 1001,
        "propertyName": "email",
        "propertyValue": "ann@acme.example",
        "changeSource": "CRM_UI",
        "sourceId": "userId:1234567",
    },
    {
        "eventId": 3001002,
        "subscriptionId": 2102,
        "portalId": HUBSPOT_PORTAL_ID,
        "appId": HUBSPOT_APP_ID,
        "occurredAt": TIME_EPOCH_MS - 1000,
        "subscriptionType": "company.creation",
        "attemptNumber": 0,
        "objectId": 2001,
        "changeFlag": "CREATED",
        "changeSource": "CRM_UI",
        "sourceId": "userId:1234567",
    },
]


def build():
    files = {}

    files["oauth-start.json"] = http_event(
        "GET",
        "/oauth/{provider}/start",
        "/oauth/hubspot/start",
        {"provider": "hubspot"},
        query={"group_id": "cld-demo"},
        request_id="Oa1StartAAAEJmw=",
    )
    files["oauth-callback.json"] = http_event(
        "GET",
        "/oauth/{provider}/callback",
        "/oauth/hubspot/callback",
        {"provider": "hubspot"},
        query={
            "code": "na1-5c2e-4f0b-9a3d-demo-authorization-code",
            "state": "sample-state-Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
        },
        headers={"referer": "https://app.hubspot.com/"},
        request_id="Oa1CallbackAAEJmw=",
    )
    files["oauth-callback-denied.json"] = http_event(
        "GET",
        "/oauth/{provider}/callback",
        "/oauth/hubspot/callback",
        {"provider": "hubspot"},
        query={
            "error": "access_denied",
            "error_description": "The+user+denied+access",
            "state": "sample-state-Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
        },
        request_id="Oa1DeniedAAAEJmw=",
    )

    connec_body = compact({"people": [ANN], "organizations": [GLOBEX]})
    basic = "Basic " + base64.b64encode(f"{CONNEC_API_ID}:{CONNEC_API_KEY}".encode()).decode()
    files["webhook-connec.json"] = http_event(
        "POST",
        "/webhooks/connec/{tenant}",
        f"/webhooks/connec/{TENANT}",
        {"tenant": TENANT},
        headers={"authorization": basic, "content-type": "application/json", "user-agent": "Connec!/2.0"},
        body=connec_body,
        request_id="WhConnecAAAEJmw=",
    )
    files["webhook-connec-bad-auth.json"] = http_event(
        "POST",
        "/webhooks/connec/{tenant}",
        f"/webhooks/connec/{TENANT}",
        {"tenant": TENANT},
        headers={
            "authorization": "Basic " + base64.b64encode(b"demo-id:wrong-key").decode(),
            "content-type": "application/json",
            "user-agent": "Connec!/2.0",
        },
        body=connec_body,
        request_id="WhConnecBadAAEJmw=",
    )

    hubspot_body = compact(HUBSPOT_EVENTS)
    uri = f"https://{DOMAIN}/webhooks/hubspot"
    signature = hubspot_v3_signature(HUBSPOT_CLIENT_SECRET, "POST", uri, hubspot_body, TIME_EPOCH_MS)
    hubspot_headers = {
        "content-type": "application/json",
        "user-agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (namespace: webhooks-nio-http-client) - WebhooksExecutorDaemon-executor",
        "x-hubspot-request-timestamp": str(TIME_EPOCH_MS),
        "x-hubspot-signature-v3": signature,
        "x-hubspot-signature-version": "v3",
    }
    files["webhook-hubspot.json"] = http_event(
        "POST",
        "/webhooks/{provider}",
        "/webhooks/hubspot",
        {"provider": "hubspot"},
        headers=hubspot_headers,
        body=hubspot_body,
        request_id="WhHubSpotAAAEJmw=",
    )
    forged = dict(hubspot_headers)
    # Signed with another secret: well-formed, wrong.
    forged["x-hubspot-signature-v3"] = hubspot_v3_signature("not-the-secret", "POST", uri, hubspot_body, TIME_EPOCH_MS)
    files["webhook-hubspot-forged.json"] = http_event(
        "POST",
        "/webhooks/{provider}",
        "/webhooks/hubspot",
        {"provider": "hubspot"},
        headers=forged,
        body=hubspot_body,
        request_id="WhForgedAAAAEJmw=",
    )

    files["schedule-tick.json"] = eventbridge_event(
        "ScheduleTick",
        {"scheduled_time": TIME},
        "3f0c8a7e-5b7d-4c1e-9a51-2d6f0e8b1c01",
        source="connector.scheduler",
        resources=[f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/connector-framework-SyncFunctionHourly"],
    )
    files["sync-requested.json"] = eventbridge_event(
        "SyncRequested", {"type": "sync", "org": "cld-demo"}, "6a1d2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c01"
    )
    files["sync-continuation.json"] = eventbridge_event(
        "SyncRequested",
        {"type": "sync", "org": "cld-demo", "resume": True},
        "6a1d2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c02",
    )
    files["hub-records.json"] = eventbridge_event(
        "HubRecords",
        {"type": "hub_records", "org": "cld-demo", "entity": "people", "records": [ANN]},
        "6a1d2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c03",
    )
    files["app-changes.json"] = eventbridge_event(
        "AppChanges",
        {"type": "app_changes", "org": "cld-demo", "entity": "people", "ids": ["1001"]},
        "6a1d2b3c-4e5f-4a6b-8c7d-9e0f1a2b3c04",
    )
    return files


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, event in build().items():
        text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run python3 events/generate.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

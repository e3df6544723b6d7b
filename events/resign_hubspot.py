#!/usr/bin/env python3
"""Re-signs a HubSpot webhook sample event for *now* and prints it (standard library only).

    python3 events/resign_hubspot.py events/webhook-hubspot.json > /tmp/hubspot-now.json
    cargo lambda invoke webhook --data-file /tmp/hubspot-now.json

Options (environment):
    HUBSPOT_CLIENT_SECRET  the secret to sign with (default: demo-client-secret, the emulator's)
    PUBLIC_URL             the base URL HubSpot called (default: https:// + requestContext.domainName)

The v3 signature is base64(HMAC-SHA256(client_secret, method + uri + body + timestamp_ms)) and
is refused once the timestamp is more than 5 minutes old, so a fixed sample cannot stay valid.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: resign_hubspot.py EVENT.json  (prints the re-signed event on stdout)")
    with open(sys.argv[1], encoding="utf-8") as f:
        event = json.load(f)
    secret = os.environ.get("HUBSPOT_CLIENT_SECRET", "demo-client-secret")
    base = os.environ.get("PUBLIC_URL") or "https://" + event["requestContext"]["domainName"]
    uri = base.rstrip("/") + event["rawPath"]
    if event.get("rawQueryString"):
        uri += "?" + event["rawQueryString"]
    method = event["requestContext"]["http"]["method"]
    body = event.get("body") or ""
    timestamp = str(int(time.time() * 1000))
    message = f"{method}{uri}{body}{timestamp}".encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    event["headers"]["x-hubspot-request-timestamp"] = timestamp
    event["headers"]["x-hubspot-signature-v3"] = signature
    event["requestContext"]["timeEpoch"] = int(timestamp)
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

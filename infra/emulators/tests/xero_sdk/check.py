"""Xero's official Python SDK (xero-python) against the Xero emulator, unchanged but for
the hosts it talks to.

    python check.py <api_base> <identity_base>

<api_base> replaces https://api.xero.com (the Accounting API under /api.xro/2.0 and the
connections endpoint), <identity_base> replaces https://identity.xero.com (the token
endpoint). The app's credentials and a refresh token come from the environment:
XERO_CLIENT_ID, XERO_CLIENT_SECRET, XERO_REFRESH_TOKEN.

Prints one line per check, "PASS <name>: <detail>" or "FAIL <name>: <why>", then
"checks passed: N; failed: M"; exits 0 only when every check passed. Stops at the first
failure.
"""

import datetime
import os
import sys
import traceback

from xero_python.accounting import (
    Account,
    AccountingApi,
    Contact,
    ContactPerson,
    Contacts,
    Invoice,
    Invoices,
    Item,
    Items,
    LineAmountTypes,
    LineItem,
    Payment,
    PaymentDelete,
    Purchase,
)
from xero_python.api_client import ApiClient
from xero_python.api_client.configuration import Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, RateLimitException
from xero_python.identity import IdentityApi

PASSED = []


def check(name, detail):
    PASSED.append(name)
    print("PASS {}: {}".format(name, detail), flush=True)


def val(x):
    """An enum's value (the SDK gives some enums as plain strings)."""
    return getattr(x, "value", x)


def expect(cond, why):
    if not cond:
        raise AssertionError(why)


def main(api_base, identity_base):
    # The only change to the SDK: the hosts. TokenApi keeps its URLs as class attributes,
    # AccountingApi and IdentityApi take a base_url.
    TokenApi.refresh_token_url = identity_base + "/connect/token"
    TokenApi.revoke_token_url = identity_base + "/connect/revocation"

    store = {
        "access_token": "",
        "refresh_token": os.environ["XERO_REFRESH_TOKEN"],
        "scope": ["offline_access", "accounting.contacts", "accounting.transactions"],
        "expires_in": 0,
        "expires_at": 0,
        "token_type": "Bearer",
        "id_token": None,
    }
    api_client = ApiClient(
        Configuration(
            oauth2_token=OAuth2Token(
                client_id=os.environ["XERO_CLIENT_ID"],
                client_secret=os.environ["XERO_CLIENT_SECRET"],
            ),
        ),
        pool_threads=1,
    )

    @api_client.oauth2_token_getter
    def get_token():
        return store

    @api_client.oauth2_token_saver
    def save_token(token):
        store.update(token)

    first_refresh = store["refresh_token"]
    api_client.refresh_oauth2_token()
    expect(store["access_token"], "no access token after refresh")
    expect(store["refresh_token"] != first_refresh, "the refresh token did not rotate")
    check("refresh_oauth2_token", "rotated refresh token, expires_in={}".format(store["expires_in"]))

    identity = IdentityApi(api_client, base_url=api_base)
    connections = identity.get_connections()
    expect(len(connections) == 1, "connections: {!r}".format(connections))
    tenant = str(connections[0].tenant_id)
    check("IdentityApi.get_connections", "tenant {} ({})".format(connections[0].tenant_name, connections[0].tenant_type))

    acc = AccountingApi(api_client, base_url=api_base + "/api.xro/2.0")
    orgs = acc.get_organisations(tenant).organisations
    expect(len(orgs) == 1 and str(orgs[0].organisation_id) == tenant, "organisation")
    banks = [a.code for a in acc.get_accounts(tenant).accounts if val(a.type) == "BANK"]
    expect(banks == ["090", "091"], "bank accounts {!r}".format(banks))
    check("AccountingApi.get_organisations / get_accounts", "{}, {}; bank accounts {}".format(orgs[0].name, val(orgs[0].base_currency), banks))
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)

    created = acc.create_contacts(
        tenant,
        Contacts(
            contacts=[
                Contact(
                    name="SDK Contact {}".format(i),
                    email_address="sdk{}@example.com".format(i),
                    contact_persons=[ContactPerson(first_name="P", last_name=str(i), email_address="p{}@example.com".format(i), include_in_emails=True)],
                )
                for i in range(3)
            ]
        ),
    )
    ids = [c.contact_id for c in created.contacts]
    expect(len(ids) == 3 and all(ids), "created: {!r}".format(ids))
    expect(val(created.contacts[0].contact_status) == "ACTIVE", "status")
    check("AccountingApi.create_contacts", "3 contacts")

    updated = acc.update_contact(
        tenant, ids[0], Contacts(contacts=[Contact(contact_id=ids[0], email_address="changed@example.com")])
    )
    expect(updated.contacts[0].email_address == "changed@example.com", "update not applied")
    expect(updated.contacts[0].name == "SDK Contact 0", "name lost")
    check("AccountingApi.update_contact", "email changed, name kept")

    upserted = acc.update_or_create_contacts(tenant, Contacts(contacts=[Contact(contact_id=ids[1], first_name="Upd")]))
    expect(upserted.contacts[0].first_name == "Upd", "upsert")
    check("AccountingApi.update_or_create_contacts", "POST updated by ContactID")

    page1 = acc.get_contacts(tenant, page=1, page_size=2, order="UpdatedDateUTC ASC")
    expect(page1.pagination.item_count == 3, "itemCount {}".format(page1.pagination.item_count))
    expect(page1.pagination.page_count == 2 and len(page1.contacts) == 2, "page 1")
    page2 = acc.get_contacts(tenant, page=2, page_size=2, order="UpdatedDateUTC ASC")
    expect(len(page2.contacts) == 1, "page 2")
    stamps = [c.updated_date_utc for c in page1.contacts + page2.contacts]
    expect(stamps == sorted(stamps), "not in UpdatedDateUTC order")
    check("AccountingApi.get_contacts (paging)", "pages of 2 and 1, pageCount=2, itemCount=3, ascending UpdatedDateUTC")

    since = acc.get_contacts(tenant, if_modified_since=before)
    names = sorted(c.name for c in since.contacts)
    expect(names == ["SDK Contact 0", "SDK Contact 1", "SDK Contact 2"], "since: {!r}".format(names))
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    expect(acc.get_contacts(tenant, if_modified_since=later).contacts == [], "future If-Modified-Since")
    check("AccountingApi.get_contacts (If-Modified-Since)", "3 changed since the start, none after tomorrow")

    one = acc.get_contact(tenant, ids[2])
    expect(one.contacts[0].contact_persons[0].email_address == "p2@example.com", "contact persons")
    check("AccountingApi.get_contact", "ContactPersons kept")

    items = acc.create_items(
        tenant,
        Items(items=[Item(code="SDK-ITEM", name="SDK item", description="An item", sales_details=Purchase(unit_price=12.5, account_code="200", tax_type="OUTPUT2"))]),
    )
    expect(items.items[0].item_id and items.items[0].code == "SDK-ITEM", "item")
    listed = acc.get_items(tenant)
    expect([i.code for i in listed.items] == ["SDK-ITEM"], "items list")
    check("AccountingApi.create_items / get_items", "item SDK-ITEM")

    invoices = acc.create_invoices(
        tenant,
        Invoices(
            invoices=[
                Invoice(
                    type="ACCREC",
                    contact=Contact(contact_id=ids[0]),
                    date=datetime.date(2026, 1, 31),
                    due_date=datetime.date(2026, 2, 28),
                    line_amount_types=LineAmountTypes.EXCLUSIVE,
                    line_items=[LineItem(item_code="SDK-ITEM", quantity=2)],
                    status="AUTHORISED",
                )
            ]
        ),
    )
    inv = invoices.invoices[0]
    expect(str(inv.total) in ("28.75", "28.75000"), "total {}".format(inv.total))
    expect(inv.invoice_number == "INV-0001", "number {}".format(inv.invoice_number))
    expect(val(inv.status) == "AUTHORISED", "status {}".format(inv.status))
    expect(inv.date == datetime.date(2026, 1, 31), "date {!r}".format(inv.date))
    expect(inv.line_items[0].line_item_id, "line id")
    check("AccountingApi.create_invoices", "{} total {} (25.00 + 3.75 GST), {}".format(inv.invoice_number, inv.total, val(inv.status)))

    got = acc.get_invoice(tenant, inv.invoice_id)
    expect(got.invoices[0].contact.is_customer is True, "IsCustomer")
    check("AccountingApi.get_invoice", "contact became a customer")

    payment = acc.create_payment(
        tenant,
        Payment(invoice=Invoice(invoice_id=inv.invoice_id), account=Account(code="090"), amount=28.75, date=datetime.date(2026, 2, 1)),
    ).payments[0]
    paid = acc.get_invoice(tenant, inv.invoice_id).invoices[0]
    expect(val(paid.status) == "PAID" and float(paid.amount_due) == 0.0, "after payment: {} {}".format(paid.status, paid.amount_due))
    check("AccountingApi.create_payment", "invoice PAID, AmountDue {}".format(paid.amount_due))

    listed_payments = acc.get_payments(tenant, page=1)
    expect(len(listed_payments.payments) == 1 and listed_payments.pagination.item_count == 1, "payments list")
    acc.delete_payment(tenant, payment.payment_id, PaymentDelete(status="DELETED"))
    reverted = acc.get_invoice(tenant, inv.invoice_id).invoices[0]
    expect(val(reverted.status) == "AUTHORISED" and float(reverted.amount_paid) == 0.0, "after deletion: {}".format(reverted.status))
    check("AccountingApi.get_payments / delete_payment", "invoice back to AUTHORISED, AmountDue {}".format(reverted.amount_due))

    voided = acc.update_invoice(tenant, inv.invoice_id, Invoices(invoices=[Invoice(status="VOIDED")])).invoices[0]
    expect(val(voided.status) == "VOIDED", "void: {}".format(voided.status))
    check("AccountingApi.update_invoice", "AUTHORISED -> VOIDED")

    acc.delete_item(tenant, items.items[0].item_id)
    expect(acc.get_items(tenant).items == [], "item not deleted")
    check("AccountingApi.delete_item", "gone from get_items")

    try:
        acc.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Contact 1")]))
        raise AssertionError("a duplicate name was accepted")
    except AccountingBadRequestException as e:
        expect("already assigned to another contact" in e.reason, "reason {!r}".format(e.reason))
        expect(e.error_data["Type"] == "ValidationException", "type")
        check("AccountingBadRequestException", e.reason)

    mixed = acc.create_contacts(
        tenant,
        Contacts(contacts=[Contact(name="SDK Contact 2"), Contact(name="SDK Fresh")]),
        summarize_errors=False,
    )
    flags = [c.status_attribute_string for c in mixed.contacts]
    expect(flags == ["ERROR", "OK"], "flags {!r}".format(flags))
    expect(mixed.contacts[0].validation_errors[0].message.startswith("The contact name"), "message")
    check("create_contacts summarize_errors=False", "statuses {}".format(flags))

    again = acc.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Idem")]), idempotency_key="sdk-key-1")
    replay = acc.create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Idem")]), idempotency_key="sdk-key-1")
    expect(again.contacts[0].contact_id == replay.contacts[0].contact_id, "replay differs")
    check("idempotency_key", "replayed the first answer")

    # The 429 path. Fill the tenant's minute window (the remaining count is in every
    # answer's X-MinLimit-Remaining); a POST over the limit raises the SDK's
    # RateLimitException (urllib3 retries no POST). A GET over the limit would be retried by
    # urllib3's default Retry after sleeping Retry-After (up to a minute here), see below.
    for _ in range(100):
        _, _, headers = acc.get_contacts(tenant, _return_http_data_only=False)
        if headers.get("X-MinLimit-Remaining") == "0":
            break
    else:
        raise AssertionError("X-MinLimit-Remaining never reached 0")
    try:
        acc.update_or_create_contacts(tenant, Contacts(contacts=[Contact(name="SDK Over Limit")]))
        raise AssertionError("no 429 over the minute limit")
    except RateLimitException as e:
        retry = int(e.headers.get("Retry-After"))
        expect(e.rate_limit == "minute", "problem {!r}".format(e.rate_limit))
        expect(1 <= retry <= 60, "Retry-After {}".format(retry))
        check("RateLimitException", "{} (X-Rate-Limit-Problem: {}, Retry-After: {})".format(e.error_message, e.rate_limit, retry))
    # A 429 on a GET: the window rolls (the harness moves the emulator clock on a minute),
    # then one 429 with Retry-After: 1 is injected. urllib3's default Retry sleeps for it,
    # retries, and the SDK call returns normally.
    admin(api_base, "POST", "/_emulator/clock/advance", {"seconds": 60})
    admin(api_base, "POST", "/_emulator/faults/call", {
        "method": "GET", "path_contains": "/Contacts", "times": 1,
        "kind": {"type": "status", "status": 429, "retry_after_secs": 1},
    })
    rejected = admin(api_base, "GET", "/_emulator/stats")["rejected"]
    again = acc.get_contacts(tenant)
    expect(len(again.contacts) >= 3, "contacts after the retry")
    retried = admin(api_base, "GET", "/_emulator/stats")["rejected"] - rejected
    expect(retried == 1, "refused attempts: {}".format(retried))
    check("429 on GET retried by the SDK's transport", "1 refused attempt (Retry-After: 1), then 200")


def admin(base, method, path, body=None):
    """The emulator's admin routes (the harness, not the SDK)."""
    import json
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    failed = 0
    try:
        main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"))
    except Exception as e:  # noqa: BLE001 - report whatever broke
        failed = 1
        print("FAIL {}: {}".format(type(e).__name__, e), flush=True)
        traceback.print_exc()
    print("checks passed: {}; failed: {}".format(len(PASSED), failed))
    sys.exit(1 if failed else 0)

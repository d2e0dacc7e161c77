"""stripe_params.py - the form parameters Stripe documents for each operation souk calls, written
from Stripe's API reference (docs.stripe.com/api, version 2026-10-28): stripe_fake.py refuses any
other one with Stripe's own answer (400, code parameter_unknown), so a misspelt or invented
parameter fails a test instead of failing in production.

A parameter is written as its bracket path with list indices as N ("line_items.N.quantity");
"*" stands for any key of a free-form hash (metadata). Only the parameters of the operations souk
uses are listed, each with its documented children.
"""

import re

_PRICE_DATA_CHECKOUT = ["currency", "product", "product_data.name", "product_data.description",
                        "product_data.images.N", "product_data.metadata.*",
                        "product_data.tax_code", "recurring.interval", "recurring.interval_count",
                        "tax_behavior", "unit_amount", "unit_amount_decimal"]
_PRICE_DATA_SUBSCRIPTION = ["currency", "product", "recurring.interval",
                            "recurring.interval_count", "tax_behavior", "unit_amount",
                            "unit_amount_decimal"]

CHECKOUT_SESSION_CREATE = {
    "after_expiration.recovery.enabled", "allow_promotion_codes", "automatic_tax.enabled",
    "billing_address_collection", "cancel_url", "client_reference_id", "currency",
    "customer", "customer_creation", "customer_email", "customer_update.address",
    "customer_update.name", "customer_update.shipping", "discounts.N.coupon",
    "discounts.N.promotion_code", "expires_at", "invoice_creation.enabled", "locale",
    "metadata.*", "mode", "payment_method_collection", "payment_method_configuration",
    "payment_method_types.N", "phone_number_collection.enabled", "redirect_on_completion",
    "return_url", "submit_type", "success_url", "ui_mode",
    "line_items.N.price", "line_items.N.quantity", "line_items.N.tax_rates.N",
    "line_items.N.dynamic_tax_rates.N", "line_items.N.adjustable_quantity.enabled",
    "line_items.N.adjustable_quantity.maximum", "line_items.N.adjustable_quantity.minimum",
    *("line_items.N.price_data." + p for p in _PRICE_DATA_CHECKOUT),
    "payment_intent_data.application_fee_amount", "payment_intent_data.capture_method",
    "payment_intent_data.description", "payment_intent_data.metadata.*",
    "payment_intent_data.on_behalf_of", "payment_intent_data.receipt_email",
    "payment_intent_data.setup_future_usage", "payment_intent_data.statement_descriptor",
    "payment_intent_data.statement_descriptor_suffix", "payment_intent_data.transfer_group",
    "subscription_data.application_fee_percent", "subscription_data.billing_cycle_anchor",
    "subscription_data.default_tax_rates.N", "subscription_data.description",
    "subscription_data.metadata.*", "subscription_data.on_behalf_of",
    "subscription_data.proration_behavior", "subscription_data.trial_end",
    "subscription_data.trial_period_days",
}

REFUND_CREATE = {"amount", "charge", "currency", "customer", "instructions_email", "metadata.*",
                 "origin", "payment_intent", "reason", "refund_application_fee",
                 "reverse_transfer"}

SUBSCRIPTION_UPDATE = {
    "cancel_at", "cancel_at_period_end", "cancellation_details.comment",
    "cancellation_details.feedback", "collection_method", "days_until_due",
    "default_payment_method", "default_tax_rates.N", "description", "metadata.*",
    "off_session", "payment_behavior", "proration_behavior", "proration_date", "trial_end",
    "items.N.id", "items.N.price", "items.N.quantity", "items.N.deleted",
    "items.N.clear_usage", "items.N.metadata.*", "items.N.tax_rates.N",
    *("items.N.price_data." + p for p in _PRICE_DATA_SUBSCRIPTION),
}

SUBSCRIPTION_CANCEL = {"cancellation_details.comment", "cancellation_details.feedback",
                       "invoice_now", "prorate"}

# (method, path pattern) -> documented parameters; every operation also takes expand.N
OPERATIONS = [
    ("POST", r"/v1/checkout/sessions", CHECKOUT_SESSION_CREATE),
    ("GET", r"/v1/checkout/sessions/[^/]+", set()),
    ("POST", r"/v1/checkout/sessions/[^/]+/expire", set()),
    ("POST", r"/v1/refunds", REFUND_CREATE),
    ("GET", r"/v1/subscriptions/[^/]+", set()),
    ("POST", r"/v1/subscriptions/[^/]+", SUBSCRIPTION_UPDATE),
    ("DELETE", r"/v1/subscriptions/[^/]+", SUBSCRIPTION_CANCEL),
]


def _path(key):
    """'line_items[0][price_data][currency]' -> ['line_items', 'N', 'price_data', 'currency']."""
    m = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", key)
    if not m:
        return None
    parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
    return ["N" if p.isdigit() or p == "" else p for p in parts]


def _allowed(parts, documented):
    for pattern in documented | {"expand.N"}:
        want = pattern.split(".")
        if want[-1] == "*":
            if len(parts) == len(want) and parts[:-1] == want[:-1] and parts[-1] not in ("N",):
                return True
        elif parts == want:
            return True
    return False


def unknown_parameters(method, path, keys):
    """The keys Stripe would refuse for this call ([] for a call that is not in the table)."""
    for m, pattern, documented in OPERATIONS:
        if m == method and re.fullmatch(pattern, path):
            return [k for k in keys if not (_path(k) and _allowed(_path(k), documented))]
    return []

"""authz_payments.py - authorization-matrix rows for the payments API (src/payments/
payments_http.c). Merged into MATRIX by test_authz_matrix.py (row format documented there).

- POST /api/payments/checkout/ is for any signed-in user; the purpose decides the rest. The
  matrix's server has no SOUK_TEST_PAYMENTS, so the row names a purpose no domain registers:
  every signed-in caller gets 400 validation_error, the anonymous one 401.
- GET /api/payments/{id}/ with an id nobody has: 404 for every signed-in caller, exactly what
  another user's payment answers (API.md: others' private objects are 404). The owner's 200 is
  covered by tests/api/test_payments.py.
- The webhook routes belong to the payment provider: no user matters, an unsigned delivery is a
  400 signature_invalid for everyone.
"""

from authzlib import Row, admin_only, all_kinds, signed_in

UNKNOWN_ID = "0190aaaa-0000-7000-8000-00000000beef"
UNSIGNED = Row(all_kinds(400), body=b'{"id": "evt_1", "object": "event"}',
               headers={"Content-Type": "application/json"})

ROWS = {
    ("POST", "/api/payments/checkout/"): Row(signed_in(400),
                                             body={"purpose": "no-such-purpose",
                                                   "id": UNKNOWN_ID}),
    ("GET", "/api/payments/history/"): Row(signed_in(200)),
    ("GET", "/api/payments/{id}/"): Row(signed_in(404), params={"id": UNKNOWN_ID}),
    ("POST", "/api/payments/webhooks/"): UNSIGNED,
    ("POST", "/api/webhooks/payment/"): UNSIGNED,
    ("GET", "/api/admin/payments/events/"): Row(admin_only(200)),
}

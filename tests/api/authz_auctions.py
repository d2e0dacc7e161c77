"""authz_auctions.py - rows of test_authz_matrix.MATRIX for the auction routes. Routes on one
auction are called with an id no auction has: they answer 404 once the caller is past
authentication (the auction tests cover each role on real auctions). KINDS order:
anon, customer, vnp, owner, other, mod, admin."""

import uuid

from authzlib import Row, all_kinds as _all, signed_in as _user_only

ROWS = {
    # no such recipe: 400 once signed in (the body names a recipe that does not exist)
    ("POST", "/api/auctions/"): Row(_user_only(400), body={"recipe_id": str(uuid.uuid4()),
                                                            "starting_price": "1.00",
                                                            "ends_at": "2099-01-01T00:00:00Z"}),
    ("GET", "/api/auctions/"): Row(_all(200)),
    ("GET", "/api/auctions/{id}/"): Row(_all(404), params={"id": str(uuid.uuid4())}),
    ("POST", "/api/auctions/{id}/cancel/"): Row(_user_only(404), params={"id": str(uuid.uuid4())}),
    ("POST", "/api/bids/"): Row(_user_only(404), body={"auction_id": str(uuid.uuid4()),
                                                      "amount": "1.00"}),
    ("GET", "/api/bids/recipes/{recipe_id}/"): Row(_all(200),
                                                  params={"recipe_id": str(uuid.uuid4())}),
    ("GET", "/api/bids/user/"): Row(_user_only(200)),
    ("GET", "/api/bids/won/"): Row(_user_only(200)),
}

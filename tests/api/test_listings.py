"""test_listings.py - listings: creation limits on attributes, the status machine, visibility,
and every filter kind of the public list (strings, numbers, booleans, ranges, price, distance)."""

import math
import uuid

from identity_helpers import assert_problem, make_chef, make_user

PARIS = (48.8566, 2.3522)
LONDON = (51.5074, -0.1278)


def haversine(a, b, r=6371.0088):
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def post(souk, chef, **fields):
    body = {"title": "Puppy", "price": "100.00", "status": "active", **fields}
    r = souk.post("/api/listings/", json=body, token=chef["access"])
    assert r.status_code == 201, r.text
    return r.json()


def ids(r):
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


def test_create_and_shape(souk):
    chef = make_chef(souk)
    l = post(souk, chef, attributes={"breed": "beagle", "age": 3}, city="Paris", lat=PARIS[0],
             lon=PARIS[1], status="draft")
    assert l["vendor_id"] == chef["chef"]["id"] and l["vendor"]["id"] == chef["chef"]["id"]
    assert l["status"] == "draft" and l["price"] == "100.00" and l["currency"] == "usd"
    assert l["attributes"] == {"breed": "beagle", "age": 3} and l["lat"] == PARIS[0]
    assert_problem(souk.get(f"/api/listings/{l['id']}/"), 404, "not_found")
    assert souk.get(f"/api/listings/{l['id']}/", token=chef["access"]).status_code == 200
    mod = make_user(souk, "MODERATOR")
    assert souk.get(f"/api/listings/{l['id']}/", token=mod["access"]).status_code == 200
    vnp = make_user(souk, "VENDOR")
    assert_problem(souk.post("/api/listings/", json={"title": "x", "price": "1.00"},
                             token=vnp["access"]), 403, "forbidden")


def test_attribute_limits(souk):
    chef = make_chef(souk)
    bad = [
        [1, 2],
        {"a": {"b": {"c": {"d": 1}}}},
        {f"k{i}": i for i in range(51)},
        {"bad-key": 1},
        {"k" * 65: 1},
        {"s": "x" * 1001},
        {f"k{i}": "y" * 900 for i in range(20)},
    ]
    for attrs in bad:
        r = souk.post("/api/listings/", json={"title": "T", "price": "1.00", "attributes": attrs},
                      token=chef["access"])
        assert_problem(r, 400, "validation_error")
        assert "attributes" in r.json()["errors"], attrs
    ok = post(souk, chef, attributes={"a": {"b": {"c": 1}}, "s": "é" * 1000,
                                      **{f"k{i}": i for i in range(48)}})
    assert ok["attributes"]["a"] == {"b": {"c": 1}}
    assert_problem(souk.post("/api/listings/", json={"title": "T", "price": "1.00", "lat": 10},
                             token=chef["access"]), 400, "validation_error")
    r = souk.get("/api/listings/my/", token=chef["access"])
    assert ids(r) == [ok["id"]]


def test_status_machine(souk):
    chef = make_chef(souk)
    tok = chef["access"]
    l = post(souk, chef, status="draft")
    url = f"/api/listings/{l['id']}/"
    assert_problem(souk.patch(url, json={"status": "sold"}, token=tok), 409, "invalid_state")
    for s in ("active", "reserved", "active", "sold"):
        r = souk.patch(url, json={"status": s}, token=tok)
        assert r.status_code == 200 and r.json()["status"] == s, r.text
    assert_problem(souk.patch(url, json={"title": "again"}, token=tok), 409, "invalid_state")
    assert_problem(souk.delete(url, token=tok), 409, "invalid_state")
    d = post(souk, chef, status="draft")
    other = make_chef(souk)
    assert_problem(souk.delete(f"/api/listings/{d['id']}/", token=other["access"]), 404,
                   "not_found")
    assert souk.delete(f"/api/listings/{d['id']}/", token=tok).status_code == 204
    a = post(souk, chef)
    assert_problem(souk.patch(f"/api/listings/{a['id']}/", json={"title": "x"},
                              token=other["access"]), 403, "forbidden")
    r = souk.patch(f"/api/listings/{a['id']}/", json={"attributes": {"only": True}}, token=tok)
    assert r.json()["attributes"] == {"only": True}
    r = souk.patch(f"/api/listings/{a['id']}/", json={"status": "archived"}, token=tok)
    assert r.json()["status"] == "archived"
    assert a["id"] not in ids(souk.get(f"/api/listings/?vendor={chef['chef']['id']}"))


def test_attribute_filters(souk):
    chef = make_chef(souk)
    cat = "cat-" + uuid.uuid4().hex[:8]
    a = post(souk, chef, category=cat, attributes={"color": "Brown", "age": 3, "vaccinated": True})
    b = post(souk, chef, category=cat, attributes={"color": "brown", "age": 5.5, "vaccinated": False})
    c = post(souk, chef, category=cat, attributes={"color": "3", "age": "3", "vaccinated": "true",
                                                    "tags": ["x"], "none": None})
    base = f"/api/listings/?category={cat}"
    assert ids(souk.get(base + "&attr.color=Brown")) == [a["id"]]
    assert ids(souk.get(base + "&attr.age=3")) == [c["id"], a["id"]]
    assert ids(souk.get(base + "&attr.age=5.5")) == [b["id"]]
    assert ids(souk.get(base + "&attr.vaccinated=true")) == [c["id"], a["id"]]
    assert ids(souk.get(base + "&attr.vaccinated=false")) == [b["id"]]
    assert ids(souk.get(base + "&attr.age__gte=3")) == [b["id"], a["id"]]
    assert ids(souk.get(base + "&attr.age__lte=4")) == [a["id"]]
    assert ids(souk.get(base + "&attr.age__gte=3&attr.color=brown")) == [b["id"]]
    assert ids(souk.get(base + "&attr.tags=x")) == []
    assert ids(souk.get(base + "&attr.none=null")) == []
    assert_problem(souk.get(base + "&attr.age__gte=old"), 400, "validation_error")
    assert_problem(souk.get(base + "&attr.bad-key=1"), 400, "validation_error")
    assert_problem(souk.get(base + "&ordering=title"), 400, "validation_error")
    assert_problem(souk.get(base + "&ordering=distance_km"), 400, "validation_error")


def test_price_q_and_ordering(souk):
    chef = make_chef(souk)
    cat = "cat-" + uuid.uuid4().hex[:8]
    a = post(souk, chef, category=cat, price="10.00", title="Red bike")
    b = post(souk, chef, category=cat, price="20.00", title="Blue bike")
    c = post(souk, chef, category=cat, price="20.00", title="Blue car", currency="eur")
    base = f"/api/listings/?category={cat}"
    assert ids(souk.get(base + "&price_min=10.00&price_max=20.00")) == [b["id"], a["id"]]
    assert ids(souk.get(base + "&price_min=10.01")) == [b["id"]]
    assert ids(souk.get(base + "&price_max=20.00&currency=eur")) == [c["id"]]
    assert ids(souk.get(base + "&q=blue")) == [c["id"], b["id"]]
    assert ids(souk.get(base + "&ordering=price,created_at")) == [a["id"], b["id"], c["id"]]
    assert ids(souk.get(base + "&ordering=-price")) == [c["id"], b["id"], a["id"]]
    r = souk.get(base + "&ordering=price&page_size=2")  # ties: id descending
    assert ids(r) == [a["id"], c["id"]]
    nxt = r.json()["next"]
    r2 = souk.get(nxt[nxt.index("/api/"):])
    assert ids(r2) == [b["id"]]
    prev = r2.json()["previous"]
    assert ids(souk.get(prev[prev.index("/api/"):])) == [a["id"], c["id"]]
    assert_problem(souk.get(base + "&price_min=abc"), 400, "validation_error")


def test_near_distance(souk):
    chef = make_chef(souk)
    cat = "cat-" + uuid.uuid4().hex[:8]
    ln = post(souk, chef, category=cat, lat=LONDON[0], lon=LONDON[1], city="London")
    pa = post(souk, chef, category=cat, lat=PARIS[0], lon=PARIS[1], city="Paris")
    post(souk, chef, category=cat)  # no coordinates: never matches
    base = f"/api/listings/?category={cat}&near={PARIS[0]},{PARIS[1]}"
    r = souk.get(base + "&radius_km=500")
    assert ids(r) == [pa["id"], ln["id"]]
    d = r.json()["results"][1]["distance_km"]
    expect = haversine(PARIS, LONDON)
    assert abs(d - expect) / expect < 0.005 and round(d, 2) == d
    assert r.json()["results"][0]["distance_km"] == 0
    assert ids(souk.get(base + "&radius_km=300")) == [pa["id"]]
    assert ids(souk.get(base + "&radius_km=500&ordering=-distance_km")) == [ln["id"], pa["id"]]
    assert ids(souk.get(base + "&radius_km=500&city=London")) == [ln["id"]]
    for bad in ("&radius_km=0", "&radius_km=20001", ""):
        assert_problem(souk.get(base + bad), 400, "validation_error")

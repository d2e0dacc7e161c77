"""authz_jobs.py - authorization-matrix rows for the job queue's admin routes (src/jobs/jobs_http.c)
and for notifications and the event stream (src/notify/notify_http.c).

Merged into MATRIX by test_authz_matrix.py (the row format is documented there).

- The job routes are ADMIN only, checked before the job is looked up. Their {id} is a real job:
  the servers' recurring sweeps (jobs.prune, the subscription sweep) are queued at startup and
  run at once, so a `done` job exists within moments. A done job cannot be retried, so the
  ADMIN's retry answers 409 invalid_state: it got past authorization and reached the queue's
  rule, and nothing changes state.
- POST /api/admin/jobs/enqueue/ has no row on purpose: it is registered only with
  SOUK_TEST_JOBS=1, which the matrix's server never has (souk_client.base_env drops the caller's
  SOUK_* settings), so a row would be reported as a route the server does not serve. Its
  ADMIN-only check is covered by tests/api/test_jobs.py.
- POST /api/notifications/{id}/read/ uses an id nobody owns: every signed-in caller gets 404,
  exactly what another user's notification answers (API.md: others' private objects are 404).
  The owner's 200 needs a notification, which only domain events (or test mode) create; that
  case is covered by tests/api/test_notifications.py.
- GET /api/events/ never ends on its own: Row(stream=True) makes the runner read only the status
  line and headers, then close the connection.
"""

import time

from authzlib import Row, admin_only, signed_in

# A well-formed UUID (version 7 layout) that no notification or job has.
UNKNOWN_ID = "0190aaaa-0000-7000-8000-000000000000"
DONE_JOB_WAIT = 15.0  # seconds to wait for the first sweep to finish on a fresh server


def _done_job(souk, callers):
    """{"id": the id of a job in state done}, found through the ADMIN list."""
    token = callers["admin"]["access"]
    deadline = time.monotonic() + DONE_JOB_WAIT
    while True:
        r = souk.get("/api/admin/jobs/", token=token, params={"state": "done", "page_size": 1})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        if results:
            return {"id": results[0]["id"]}
        assert time.monotonic() < deadline, \
            f"no done job after {DONE_JOB_WAIT}s (do the recurring sweeps run?)"
        time.sleep(0.2)


#                anon customer vnp owner other mod admin
RETRY_DONE_JOB = (401, 403, 403, 403, 403, 403, 409)

ROWS = {
    # the job queue (ADMIN)
    ("GET", "/api/admin/jobs/"): Row(admin_only(200)),
    ("GET", "/api/admin/jobs/{id}/"): Row(admin_only(200), setup=_done_job),
    ("POST", "/api/admin/jobs/{id}/retry/"): Row(RETRY_DONE_JOB, setup=_done_job),
    # notifications (any signed-in user, their own only)
    ("GET", "/api/notifications/"): Row(signed_in(200)),
    ("POST", "/api/notifications/{id}/read/"): Row(signed_in(404), params={"id": UNKNOWN_ID}),
    # anonymous: 401 problem+json; any user: 200 and a text/event-stream that stays open
    ("GET", "/api/events/"): Row(signed_in(200), stream=True),
}

"""The case service's own logic, between the routes (JSON, `api.routes`) and the pages (HTML, `api.web`):
both are thin adapters over these modules (full-stack-fastapi-template style).

- `queue`: the case queue, the one definition of every filter and of "overdue", keyset and numbered pages
- `cases`: one case, its public views, actions, claim/assign, bulk actions
- `evidence`: evidence views and downloads (staff and merchant)
- `registration`: roads, cameras and zones, merchants, edge devices, staff accounts

Services raise `api.services.errors` (HTTP exceptions with a status that says what went wrong) and
`api.workflow.TransitionError`; pages catch what they show as a message instead.
"""

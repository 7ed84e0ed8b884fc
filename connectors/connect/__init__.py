"""Connecting a store in the browser: each platform's own flow, served by that platform's connector.

`GET /connect/<platform>/start?merchant_email=…` remembers the request under a single-use `state` and
answers 302 to the platform's consent (or install) page; the platform sends the browser back to
`/connect/<platform>/callback`, where the state is taken (once), the code or key is exchanged, the shop's
identity is read from the platform, and the store is written to the registry and announced
(`StoreLifecycle.connect`). What differs per platform lives in `connectors/<platform>/connect.py`
(`routes(ctx) -> APIRouter`); what every flow shares is here: the app's credentials and addresses
(`apps`), the states (`states`), the context a flow is given (`context`) and the pages the merchant
sees (`pages`).

Only a connector that keeps a store registry (PERSONALIZE_DATABASE_URL) serves these routes: a store
connected without one would be lost at the next start.
"""

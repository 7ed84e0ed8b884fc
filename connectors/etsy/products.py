"""Creating an Etsy listing: createDraftListing, `POST /v3/application/shops/{shop_id}/listings`.

Source: Etsy's OAS 3.0.0 (as generated in gearment/go-etsy: `client/docs/CreateDraftListingRequest.md`,
`client/api/openapi.yaml`). The body is a form (`application/x-www-form-urlencoded`). Required:
`quantity` (positive), `title`, `description`, `price` (a positive float), `who_made` (`i_did`,
`someone_else`, `collective`), `when_made` (`made_to_order`, a decade…), `taxonomy_id`; and
`shipping_profile_id`, "required when listing type is physical" (the default type). Scope `listings_w`.
The answer is the ShopListing: `listing_id`, `state` `draft`. Orders name the listing by that id, which
is what the Etsy mapping uses as a line's product id.

Decisions:
- Etsy creates listings as drafts only; making one active needs an image (getListingsByShop's `state`
  note: "Setting a draft listing to active … requires that the listing have an image set"). So a
  publish without `--draft` still makes a draft, and a note says to add an image and activate it.
- A personalized item is made by the shop once ordered: `who_made=i_did`, `when_made=made_to_order`,
  `is_supply=false`; each can be overridden with an option of that name.
- `taxonomy_id` and `shipping_profile_id` belong to the shop (its categories, its shipping profiles), so
  no default fits: they come from the draft's options or the store's `credentials`; without them Etsy
  answers 400 and the refusal is reported. `quantity` defaults to 999, the largest Etsy takes (not
  confirmed in the OAS; Etsy's listing form caps it there).
- The description is plain text (Etsy shows a listing's description as text, not HTML).
- Not settled: the OAS's `legacy` parameter and `readiness_state_id` (processing profiles); we send
  `readiness_state_id` only when given.
"""

from __future__ import annotations

from connectors.client import PlatformClient
from connectors.etsy.client import credential
from connectors.publishing import Created, Listing, created_id
from plumbing.config import StoreConfig

LISTINGS = "/v3/application/shops/{shop_id}/listings"
DEFAULTS = {
    "who_made": "i_did",
    "when_made": "made_to_order",
    "is_supply": "false",
    "quantity": "999",
    "type": "physical",
}
PASSED = ("taxonomy_id", "shipping_profile_id", "readiness_state_id", "return_policy_id", "shop_section_id")


async def create_product(api: PlatformClient, store: StoreConfig, listing: Listing) -> Created:
    form = {"title": listing.title, "description": listing.text, "price": f"{listing.price:.2f}"}
    form.update({key: listing.option(store, key, default) for key, default in DEFAULTS.items()})
    form.update({key: value for key in PASSED if (value := listing.option(store, key))})
    path = LISTINGS.format(shop_id=credential(store, "shop_id"))
    answer, _ = await api.request_json("POST", path, data=form, idempotent=False)
    notes = (
        () if listing.draft else ("Etsy creates listings as drafts: add an image, then activate it in Shop Manager",)
    )
    return Created(created_id(answer, "listing_id"), draft=True, notes=notes)

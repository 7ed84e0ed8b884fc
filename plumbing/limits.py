"""The size of everything a merchant or the operator writes into the config: one home for the limits.

Settings and templates are copied into events: a template into every personalizable line of a
`PersonalizationRequested`, the settings into its link delivery. A stock Kafka broker refuses a message over
1 MB (`message.max.bytes`), so one store's 1.2 MB title once stalled core for every store on its partition.
Each value below is generous for real use and keeps what is built from it far under that: a template at
its limits is 16 KiB, the settings about 3 KiB.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

TITLE_MAX = 200  # a template's title: shown above the editor's form
LABEL_MAX = 100  # a field's label
NAME_MAX = 64  # a field's name, a template's id: identifiers, also in form keys and URLs
FIELDS_MAX = 50  # fields of one template (real ones have 1 to 5)
CHOICES_MAX = 100  # choices of one clipart field
CHOICE_MAX = 100  # one choice's name
TEXT_MAX = 1000  # `max_length` of a text field: a long card message; the completion carries it per line
TEMPLATE_MAX_BYTES = 16 * 1024  # a template's JSON: every limit above reachable on one field, not on all fifty
URL_MAX = 2048  # what browsers and mail clients reliably keep
SENDER_NAME_MAX = 100
PRODUCT_KEY_MAX = 255  # a product id, variant id or SKU: platform ids are ≤ 40, SKUs a few dozen
PRODUCTS_MAX = 5000  # a store's personalizable products; a record of ~1 MB in Redis, never in an event
STORE_ID_MAX = 100  # in webhook paths, Redis keys and logs
SECRET_MAX = 8192  # a credential or webhook secret, a PEM key included
CREDENTIALS_MAX = 20
TEXT_KEYS_MAX = 50  # buyer_text_keys
WEBHOOKS_MAX = 20  # automation endpoints of one store
OPTIONS_MAX = 20  # a product draft's platform fields (sku, weight, taxonomy_id…: a handful)
OPTION_MAX = 1000  # one platform field's value

# One line: no control characters (a newline in a sender name is a forged mail header, in a title a broken page).
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
TEMPLATE_ID_PATTERN = rf"^[A-Za-z0-9_\-]{{1,{NAME_MAX}}}$"

Title = Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX, pattern=_ONE_LINE)]
Label = Annotated[str, StringConstraints(max_length=LABEL_MAX, pattern=_ONE_LINE)]
Choice = Annotated[str, StringConstraints(min_length=1, max_length=CHOICE_MAX, pattern=_ONE_LINE)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=r"^[A-Za-z0-9_\-]+$")]
TemplateId = Annotated[str, StringConstraints(pattern=TEMPLATE_ID_PATTERN)]
SenderName = Annotated[str, StringConstraints(max_length=SENDER_NAME_MAX, pattern=_ONE_LINE)]
ProductKey = Annotated[str, StringConstraints(min_length=1, max_length=PRODUCT_KEY_MAX, pattern=_ONE_LINE)]
Url = Annotated[str, StringConstraints(max_length=URL_MAX, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$")]
Secret = Annotated[str, StringConstraints(max_length=SECRET_MAX)]
ShortText = Annotated[str, StringConstraints(max_length=LABEL_MAX, pattern=_ONE_LINE)]
OptionValue = Annotated[str, StringConstraints(max_length=OPTION_MAX)]

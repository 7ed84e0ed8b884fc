"""The editor form as data: sections built from the items' templates, and the server-side checks of a submission.

Pure functions, no I/O: images are checked by `images.py`, stored by `assets.py`.
Form inputs are named `<line_id>:<field name>`; field names are `[A-Za-z0-9_-]`,
so the last colon splits them even when a platform's line id has colons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from schemas import RequestedItem, TemplateField

# A text field whose template sets no `max_length` gets this one: every text has a limit, so every completion has
# a size (`completion.COMPLETION_MAX_BYTES` is the whole's).
DEFAULT_TEXT_MAX = 500
CLIPART_SYMBOLS = {"heart": "♥", "star": "★", "sun": "☀", "moon": "☾", "flower": "✿", "note": "♪", "anchor": "⚓"}


@dataclass(frozen=True)
class FieldView:
    key: str
    html_id: str
    spec: TemplateField
    value: str = ""
    error: str | None = None

    @property
    def max_length(self) -> int:
        return text_limit(self.spec)

    @property
    def label(self) -> str:
        return self.spec.label or self.spec.name.replace("_", " ").replace("-", " ").capitalize()


@dataclass(frozen=True)
class Section:
    line_id: str
    html_id: str
    title: str
    quantity: int
    fields: list[FieldView]
    shape: str = "mug"  # what the preview draws: a mug, or a poster for templates that say so

    @property
    def preview_text(self) -> str:
        return next((f.value for f in self.fields if f.spec.type == "text"), "")

    @property
    def preview_clipart(self) -> str:
        value = next((f.value for f in self.fields if f.spec.type == "clipart"), "")
        return symbol(value)


@dataclass
class Submission:
    """The checked values of a submission: `values` by form key; `errors` by form key."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def text_limit(spec: TemplateField) -> int:
    """The most characters a text field takes: its template's `max_length`, else `DEFAULT_TEXT_MAX`."""
    return spec.max_length or DEFAULT_TEXT_MAX


def key_of(line_id: str, name: str) -> str:
    return f"{line_id}:{name}"


def symbol(choice: str) -> str:
    return CLIPART_SYMBOLS.get(choice.lower(), choice[:1].upper()) if choice else ""


def prefill(items: list[RequestedItem]) -> dict[str, str]:
    """The buyer's checkout text goes into each line's first text field."""
    values = {}
    for item in items:
        first_text = next((f for f in item.template.fields if f.type == "text"), None)
        if first_text and item.buyer_personalization:
            text = item.buyer_personalization
            values[key_of(item.line_id, first_text.name)] = text[: text_limit(first_text)]
    return values


def sections(items: list[RequestedItem], values: Mapping[str, str], errors: Mapping[str, str]) -> list[Section]:
    built = []
    for i, item in enumerate(items, start=1):
        fields = [
            FieldView(
                key=key_of(item.line_id, f.name),
                html_id=f"f{i}-{f.name}",
                spec=f,
                value=values.get(key_of(item.line_id, f.name), "") if f.type != "image" else "",
                error=errors.get(key_of(item.line_id, f.name)),
            )
            for f in item.template.fields
        ]
        looks = f"{item.template.id} {item.template.title}".lower()
        built.append(
            Section(
                line_id=item.line_id,
                html_id=f"s{i}",
                title=item.title,
                quantity=item.quantity,
                fields=fields,
                shape="poster" if "poster" in looks or "print" in looks else "mug",
            )
        )
    return built


def check_text(spec: TemplateField, value: str) -> str | None:
    if spec.required and not value.strip():
        return "Please fill this in."
    if len(value) > text_limit(spec):
        return f"At most {text_limit(spec)} characters, please ({len(value)} given)."
    if any(ord(c) < 32 and c not in "\t" for c in value):
        return "Please use a single line of plain text."
    return None


def check_choice(spec: TemplateField, value: str) -> str | None:
    if not value:
        return "Please choose one." if spec.required else None
    if value not in (spec.choices or []):
        return "Please choose one of the options shown."
    return None


def check_values(items: list[RequestedItem], form: Mapping[str, str]) -> Submission:
    """Check every text and clipart field of every line; image fields are checked by `images.py`."""
    result = Submission()
    for item in items:
        for spec in item.template.fields:
            key = key_of(item.line_id, spec.name)
            if spec.type == "image":
                continue
            value = form.get(key, "")
            if spec.type == "text":
                value = value.replace("\r\n", "\n").strip("\n")
            error = check_text(spec, value) if spec.type == "text" else check_choice(spec, value)
            result.values[key] = value
            if error:
                result.errors[key] = error
    return result


def draft_values(items: list[RequestedItem], form: Mapping[str, str]) -> dict[str, str]:
    """What a draft keeps: known text fields (cut to their length) and valid clipart choices; nothing else."""
    kept = {}
    for item in items:
        for spec in item.template.fields:
            key = key_of(item.line_id, spec.name)
            value = form.get(key)
            if value is None or spec.type == "image":
                continue
            if spec.type == "text":
                kept[key] = value[: text_limit(spec)]
            elif value in (spec.choices or []):
                kept[key] = value
    return kept


def image_fields(items: list[RequestedItem]) -> list[tuple[str, RequestedItem, TemplateField]]:
    return [(key_of(i.line_id, f.name), i, f) for i in items for f in i.template.fields if f.type == "image"]

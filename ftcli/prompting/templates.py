"""Filling the prompt templates: a row (with its demonstrations, instruction and chat header) becomes
the part every query shares and the query's own part."""

from __future__ import annotations

import string

from ftcli.errors import UserError
from ftcli.prompting.rank import RankRequest


class _FieldsOnly(string.Formatter):
    """str.format that fills named fields only: `{text.__class__}` or `{text[0]}` would reach into
    Python objects from a template a user (or a shared recipe) wrote."""

    def get_field(self, field_name, args, kwargs):
        if not field_name.isidentifier():
            raise UserError(f"the prompt template field {{{field_name}}} is not a plain name; a template names "
                            "fields only, like {text}")
        return super().get_field(field_name, args, kwargs)


def fill(template: str, **fields) -> str:
    try:
        return _FieldsOnly().vformat(template, (), fields)
    except (ValueError, IndexError) as err:
        raise UserError(f"the prompt template {template[:60]!r} is not a valid template ({err})") from None


def answer_text(settings, answer: str, chat: bool) -> str:
    text = fill(settings.answer, answer=answer)
    return text.lstrip() if chat else text  # the assistant turn starts fresh


def render(prompt_format, settings, row: dict, demos: list[dict], tokenizer, chat: bool, scoring: str,
           query_template: str | None = None) -> RankRequest:
    """The prompt split into the part every query shares (instruction, demonstrations, chat
    header) and the query's own part (`query_template`, when given, replaces the template for the
    query only)."""
    template = settings.cloze if scoring == "cloze" else settings.query
    mask = getattr(tokenizer, "mask_token", None) or "[MASK]"

    def query_of(example: dict, own_template: str = template) -> str:
        try:
            return fill(own_template, **prompt_format.fields(example), mask=mask)
        except KeyError as err:
            raise UserError(f"the prompt template names {err} but the rows have "
                            f"{', '.join(prompt_format.fields(example))}; fix --set prompt.query") from None

    def demo_text(example: dict) -> str:
        answer = prompt_format.gold_text(example, settings)
        if scoring == "cloze":  # the demonstration fills its own slot
            return fill(template, **prompt_format.fields(example), mask=answer)
        return query_of(example) + fill(settings.answer, answer=answer)

    shown = [demo_text(d) for d in demos]
    instruction = prompt_format.instruction(settings)
    prefix = "".join(part + settings.separator for part in ([instruction] if instruction else []) + shown)
    query = query_of(row, query_template or template)
    if not chat:
        return RankRequest(prefix, query)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": prefix + query}], tokenize=False,
                                             add_generation_prompt=True)
    at = rendered.rfind(query) if query else len(rendered)
    if at < 0:  # a template that rewrites the text: no shared part
        return RankRequest("", rendered)
    return RankRequest(rendered[:at], rendered[at:])

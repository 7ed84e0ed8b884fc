"""A line's checkout answers: kept apart with their questions, and as the one text older consumers read.

One answer alone is the text as typed (it prefills the editor's field); several are `question: answer`
lines, so no answer loses the question it belongs to (Etsy allows five questions per listing).
"""

from __future__ import annotations

from schemas import BuyerAnswer


def buyer_answers(pairs: list[tuple[str, str]]) -> tuple[str | None, list[BuyerAnswer]]:
    """(`buyer_personalization`, `buyer_answers`) of a line from its (question, answer) pairs, empty answers left out."""
    answers = [BuyerAnswer(question=q.strip(), answer=a.strip()) for q, a in pairs if a.strip()]
    if not answers:
        return None, []
    if len(answers) == 1:
        return answers[0].answer, answers
    return "\n".join(f"{a.question}: {a.answer}" if a.question else a.answer for a in answers), answers

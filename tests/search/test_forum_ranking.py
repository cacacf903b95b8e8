"""Ranking of forum questions (issue 11, item 6), on the embedded backend and a real Meilisearch,
lexical-only and hybrid: an uncertified question (and its duplicates) does not outrank the
certified article that answers it, and an accepted answer ranks as an answer of its question."""

from __future__ import annotations

from dataclasses import replace

import pytest

from search.backend import SearchQuery
from tests.search.test_contract import AGENT, doc, ids
from tests.search.test_hybrid import with_vectors

ARTICLE = doc(1, "Voicemail PIN reset",
              "When a customer forgot the voicemail PIN, reset it: open the phone settings, choose voicemail "
              "and set a new PIN. The old PIN is not needed.", tags=("phone",))
QUESTION = doc(2, "Voicemail PIN reset?",
               "A customer forgot the voicemail PIN and wants to reset it. How do I set a new PIN?",
               tags=("phone",), kind="question", certified=False, state="open")
DISTRACTORS = [
    doc(10, "Changing the delivery address", "Addresses can be changed until the parcel leaves the warehouse.",
        tags=("shipping",)),
    doc(11, "Refund an order", "Issue the refund from the billing page; it reaches the card within five days.",
        tags=("billing",)),
    doc(12, "Phone settings overview", "The settings menu of the phone lists sound, display and accounts.",
        tags=("phone",)),
]  # fmt: skip

# A forum thread: the question, its accepted (certified) answer with its own title, another answer.
THREAD_QUESTION = doc(30, "Customer charged in the wrong currency",
                      "The card statement shows dollars although the shop lists euros. What can the agent do?",
                      tags=("billing",), kind="question", certified=False, state="open")
ACCEPTED = replace(
    doc(31, "Switch the shop currency before checkout",
        "Ask the customer to pick euros in the shop footer; the bank converts dollar payments at its own rate, "
        "so refund the difference from the billing page.", tags=("billing",), kind="answer"),
    accepted=True, context=f"{THREAD_QUESTION.title}\n{THREAD_QUESTION.body}", question_id=30)
OTHER_ANSWER = replace(doc(32, "Bank fees", "Some banks add a fee to payments abroad.", tags=("billing",),
                           kind="answer"), question_id=30)

# Questions asking the same thing again (duplicates), none answered, none certified.
DUPLICATES = [
    doc(40 + n, title, body, tags=("phone",), kind="question", certified=False, state="open")
    for n, (title, body) in enumerate([
        ("Reset voicemail PIN", "How do I reset the voicemail PIN for a customer?"),
        ("Voicemail PIN forgotten, reset?", "Customer cannot remember the voicemail PIN. Reset?"),
        ("New voicemail PIN", "Can an agent set a new voicemail PIN? The customer forgot the PIN."),
        ("voicemail pin reset", "voicemail pin reset voicemail pin reset"),
        ("PIN reset for voicemail", "The voicemail PIN needs a reset; the customer forgot it."),
    ])
]  # fmt: skip

MODES = pytest.mark.parametrize("semantic", [False, True], ids=["lexical", "hybrid"])


def search(backend, text, *, semantic, **kwargs):
    return backend.search(SearchQuery(text=text, viewer=AGENT, semantic=semantic, **kwargs))


@MODES
@pytest.mark.parametrize("text", ["voicemail", "voicemail PIN reset", "reset the voicemail PIN",
                                  "how do I reset a forgotten voicemail PIN"])
def test_a_certified_article_outranks_the_question_with_the_same_words(backend, semantic, text):
    with_vectors(backend, [QUESTION, ARTICLE, *DISTRACTORS])
    found = ids(search(backend, text, semantic=semantic))
    assert found.index(1) < found.index(2), found


@MODES
@pytest.mark.parametrize("text", ["voicemail PIN reset", "reset the voicemail PIN"])
def test_a_question_repeating_the_words_does_not_outrank_the_article(backend, semantic, text):
    """The question matches slightly better (it repeats the words): comparable relevance, so
    the certified article still comes first."""
    wordy = replace(QUESTION, body="Voicemail PIN reset: how do I reset a voicemail PIN? The voicemail PIN "
                                   "reset does not work, the customer needs the voicemail PIN reset today.")
    with_vectors(backend, [wordy, ARTICLE, *DISTRACTORS])
    found = ids(search(backend, text, semantic=semantic))
    assert found.index(1) < found.index(2), found


@MODES
def test_a_clearly_better_matching_question_still_comes_first(backend, semantic):
    """The demotion reorders comparable matches only: a question matching the query's words that
    no article has is not buried under an article matching one of them."""
    question = doc(3, "Voicemail greeting recorded in the wrong language",
                   "The voicemail greeting plays in Spanish after the language was changed.",
                   kind="question", certified=False, state="open", tags=("phone",))
    with_vectors(backend, [question, ARTICLE, *DISTRACTORS])
    assert ids(search(backend, "voicemail greeting wrong language", semantic=semantic))[0] == 3


@MODES
@pytest.mark.parametrize("text", [THREAD_QUESTION.title, "charged in the wrong currency",
                                  "customer charged in dollars instead of euros"])
def test_the_accepted_answer_ranks_at_or_above_its_question(backend, semantic, text):
    with_vectors(backend, [THREAD_QUESTION, ACCEPTED, OTHER_ANSWER, *DISTRACTORS])
    found = ids(search(backend, text, semantic=semantic))
    assert 31 in found, found
    assert found.index(31) < found.index(30), found


def test_without_acceptance_the_question_wording_does_not_find_the_answer(backend):
    plain = replace(ACCEPTED, accepted=False, context="")
    with_vectors(backend, [THREAD_QUESTION, plain, *DISTRACTORS])
    assert 31 not in ids(search(backend, "wrong statement", semantic=False))


@MODES
@pytest.mark.parametrize("text", ["voicemail PIN reset", "reset voicemail PIN", "forgot voicemail PIN",
                                  "the customer forgot the voicemail PIN and needs a new one"])
def test_duplicate_questions_do_not_push_the_article_out_of_the_top_3(backend, semantic, text):
    with_vectors(backend, [*DUPLICATES, QUESTION, ARTICLE, *DISTRACTORS])
    found = ids(search(backend, text, semantic=semantic))
    assert 1 in found[:3], found


def test_pages_of_a_lexical_search_follow_the_demoted_order(backend):
    with_vectors(backend, [*DUPLICATES, QUESTION, ARTICLE, *DISTRACTORS])
    everything = ids(search(backend, "voicemail PIN", semantic=False, limit=20))
    pages = [ids(search(backend, "voicemail PIN", semantic=False, limit=2, offset=o)) for o in range(0, 8, 2)]
    assert [i for page in pages for i in page] == everything[:8]
    assert search(backend, "voicemail PIN", semantic=False, limit=2).total == len(everything)

"""Generated data for the benchmarks that no installable real set covers any more (the BIG-bench NLI and
QA sets went with its sdist): small scenes, "Anna carried the red box in the kitchen.", as NLI premises
with several hypotheses, and as facts hidden in real Rotten Tomatoes text for extractive QA."""

from __future__ import annotations

import random

NAMES = ["Anna", "Tom", "Bartholomew", "Mary Ellen", "Li", "Gwendolyn", "Jo", "Maximilian", "Priya", "Sam",
         "Eleanor", "Kwame", "Ines", "Oscar", "Yuki", "Fatima"]
ACTS = [("carried", "carry", "carried"), ("painted", "paint", "painted"), ("dropped", "drop", "dropped"),
        ("cleaned", "clean", "cleaned"), ("sold", "sell", "sold"), ("hid", "hide", "hidden"),
        ("found", "find", "found"), ("washed", "wash", "washed"), ("bought", "buy", "bought"),
        ("repaired", "repair", "repaired"), ("lost", "lose", "lost"), ("moved", "move", "moved")]
ADJECTIVES = ["red", "blue", "green", "yellow", "black", "white", "grey", "brown", "orange", "purple", "pink",
              "silver", "golden", "beige", "violet"]  # colours: one thing has one, so another contradicts it
OBJECTS = ["box", "chair", "lamp", "bicycle", "teapot", "umbrella", "guitar", "suitcase", "kite", "bucket", "mirror",
           "basket", "clock", "ladder", "vase"]
PLACES = ["kitchen", "garden", "garage", "market", "library", "train station", "attic", "harbour", "school yard",
          "cellar", "museum", "bakery"]
REASONS = ["it was raining outside", "a friend had asked for help", "the neighbours were coming over for dinner",
           "the shop was about to close"]
# Training rows draw the first three quarters of every list, test rows the whole list: a quarter of
# the test words are unseen in training, so the model has to generalise.
HELD_OUT = 4


def vocabulary(split: str) -> dict:
    lists = {"names": NAMES, "acts": ACTS, "adjectives": ADJECTIVES, "objects": OBJECTS, "places": PLACES}
    cut = {key: len(values) * 3 // HELD_OUT for key, values in lists.items()}
    return {key: values[:cut[key]] if split == "train" else values[cut[key]:] + values[:cut[key]]
            for key, values in lists.items()}


def scene(rng: random.Random, words: dict | None = None) -> dict:
    words = words or vocabulary("train")
    (past, base, participle) = rng.choice(words["acts"])
    return {"name": rng.choice(words["names"]), "past": past, "base": base, "participle": participle,
            "adjective": rng.choice(words["adjectives"]), "thing": rng.choice(words["objects"]),
            "place": rng.choice(words["places"])}


def sentence(s: dict) -> str:
    return f"{s['name']} {s['past']} the {s['adjective']} {s['thing']} in the {s['place']}."


def nli_rows(premises: int, seed: int, split: str = "train") -> list[dict]:
    """Six hypotheses per premise, two per label, drawn from four templates per label. As in SNLI, whose
    annotation artifacts these copy, entailments tend to be short generalisations, contradictions negations
    or swaps, neutral hypotheses add a clause: a row's length says something about its label."""
    rng = random.Random(seed)
    words = vocabulary(split)
    rows = []
    for _ in range(premises):
        s = scene(rng, words)
        name, past, thing, place, adjective = s["name"], s["past"], s["thing"], s["place"], s["adjective"]
        other_adjective = rng.choice([a for a in words["adjectives"] if a != adjective])
        other_name = rng.choice([n for n in words["names"] if n != name])
        other_thing = rng.choice([o for o in words["objects"] if o != thing])
        other_place = rng.choice([p for p in words["places"] if p != place])
        hypotheses = {
            "entailment": [f"{name} {past} a {thing}.", f"Someone {past} the {adjective} {thing}.",
                           f"The {thing} was {s['participle']} by {name} in the {place}.", f"{name} was in the {place}.",
                           f"A {adjective} {thing} was in the {place}."],
            "contradiction": [f"{name} did not {s['base']} the {thing}.",
                              f"{name} {past} the {other_adjective} {thing} in the {place}.",
                              f"{other_name} {past} the {adjective} {thing} in the {place}.",
                              f"{name} {past} the {adjective} {thing} in the {other_place}.",
                              f"Nobody {past} anything in the {place}."],
            "neutral": [f"{name} {past} the {adjective} {thing} in the {place} because {rng.choice(REASONS)}.",
                        f"{name} {past} the {adjective} {thing} for {other_name}.",
                        f"The {adjective} {thing} belongs to {other_name}.",
                        f"{name} {past} the {thing} yesterday.",
                        f"{name} also {past} a {other_thing} in the {place} later that day."]}
        rows += [{"premise": sentence(s), "hypothesis": hypothesis, "label": label}
                 for label, options in hypotheses.items() for hypothesis in rng.sample(options, 2)]
    rng.shuffle(rows)
    return rows


def two_scene_rows(premises: int, seed: int, split: str = "train") -> list[dict]:
    """Harder: a premise of two scenes ("Anna carried the red box in the kitchen. Tom washed the blue vase
    in the garden."), six hypotheses, two per label, each about one scene: contradictions swap what binds
    to whom (a person, colour or place from the other scene), so the model has to read the bindings; the
    lengths lean by label as in `nli_rows`."""
    rng = random.Random(seed)
    words = vocabulary(split)
    rows = []
    for _ in range(premises):
        first = scene(rng, words)
        second = scene(rng, words)
        while any(first[key] == second[key] for key in ("name", "past", "adjective", "thing", "place")):
            second = scene(rng, words)
        premise = f"{sentence(first)} {sentence(second)}"
        s, t = (first, second) if rng.random() < 0.5 else (second, first)  # s: the scene asked about
        hypotheses = {
            "entailment": [f"{s['name']} {s['past']} the {s['thing']}.", f"The {s['thing']} was {s['adjective']}.",
                           f"{s['name']} was in the {s['place']}.",
                           f"The {s['adjective']} {s['thing']} was {s['participle']} by {s['name']} in the {s['place']}."],
            "contradiction": [f"{t['name']} {s['past']} the {s['adjective']} {s['thing']}.",
                              f"The {s['thing']} was {t['adjective']}.", f"{s['name']} was in the {t['place']}.",
                              f"{s['name']} {s['past']} the {s['adjective']} {s['thing']} in the {t['place']}."],
            "neutral": [f"{s['name']} {s['past']} the {s['thing']} for {t['name']}.",
                        f"{s['name']} {s['past']} the {s['adjective']} {s['thing']} because {rng.choice(REASONS)}.",
                        f"The {s['adjective']} {s['thing']} belongs to {t['name']}.",
                        f"{s['name']} and {t['name']} met in the {s['place']} later that day."]}
        rows += [{"premise": premise, "hypothesis": hypothesis, "label": label}
                 for label, options in hypotheses.items() for hypothesis in rng.sample(options, 2)]
    rng.shuffle(rows)
    return rows


def qa_rows(texts: list[str], questions: int, seed: int, unanswerable: float = 1 / 3, prefix: str = "q") -> list[dict]:
    """SQuAD-style rows: a context of 4-16 real snippets (`texts`) with two scene sentences put between them,
    and a who / what / where question about one scene, or (a share `unanswerable`) about a scene that is not
    there, with no answer. Long contexts run past 384 tokens, so some questions span several windows."""
    rng = random.Random(seed)
    rows = []
    for index in range(questions):
        facts = [scene(rng), scene(rng)]
        while facts[1]["name"] == facts[0]["name"] or facts[1]["thing"] == facts[0]["thing"]:
            facts[1] = scene(rng)
        pieces = rng.sample(texts, rng.randint(4, 16))
        for fact in facts:
            pieces.insert(rng.randint(0, len(pieces)), sentence(fact))
        context = " ".join(pieces)
        asked, answered = facts[0], rng.random() >= unanswerable
        if not answered:  # a scene whose person and object the context never names together
            asked = scene(rng)
            while asked["name"] in (facts[0]["name"], facts[1]["name"]) or asked["thing"] in (facts[0]["thing"], facts[1]["thing"]):
                asked = scene(rng)
        kind = rng.choice(["who", "what", "where"])
        question, answer = {
            "who": (f"Who {asked['past']} the {asked['adjective']} {asked['thing']}?", asked["name"]),
            "what": (f"What did {asked['name']} {asked['base']} in the {asked['place']}?",
                     f"the {asked['adjective']} {asked['thing']}"),
            "where": (f"Where did {asked['name']} {asked['base']} the {asked['thing']}?", asked["place"]),
        }[kind]
        answers = {"text": [], "answer_start": []}
        if answered:
            start = context.index(sentence(asked)) + sentence(asked).index(answer if kind != "who" else asked["name"])
            answers = {"text": [answer], "answer_start": [start]}
        rows.append({"id": f"{prefix}{index}", "question": question, "context": context, "answers": answers})
    return rows

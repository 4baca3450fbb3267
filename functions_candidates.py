"""The candidate networks of model selection (01) and training (02): the original study's layer table, our own
clearly named extras, the training recipes, and the candidates they make (architecture x recipe x members), with
02's defaults. Defined once here; the scripts, the plots and the benchmarks read them from here. Plain data:
the standard library and functions_audio's column names only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from functions_audio import CLASSIC_COLUMNS, FEATURE_COLUMNS, MUSICNN_COLUMNS

# --------------------------------------------------------------------------------------------------------
# The candidate table (the original study, plus our own clearly named extras)
# --------------------------------------------------------------------------------------------------------


def _columns(*prefixes: str) -> tuple[str, ...]:
    """Feature columns whose names start with any of ``prefixes``, in FEATURE_COLUMNS order."""
    return tuple(c for c in FEATURE_COLUMNS if c.startswith(prefixes))


FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "mfcc_mean (30)": _columns("mfcc_mean_"),
    "mfcc_mean + chroma_mean (42)": _columns("mfcc_mean_", "chroma_mean_"),
    "mfcc mean+std (60)": _columns("mfcc_mean_", "mfcc_std_"),
    "mfcc, chroma, tempo (85)": _columns("mfcc_", "chroma_", "tempo"),
    "85 + zcr (87)": _columns("mfcc_", "chroma_", "tempo", "zcr_"),
    "85 + zcr + rolloff (89)": _columns("mfcc_", "chroma_", "tempo", "zcr_", "rolloff_"),
    "85 + zcr + centroid (89)": _columns("mfcc_", "chroma_", "tempo", "zcr_", "centroid_"),
    "all features (91)": tuple(FEATURE_COLUMNS),
    # the learned features (functions_audio.MUSICNN_COLUMNS): clip mean and std of the 50 musicnn tag probabilities
    "musicnn (100)": tuple(MUSICNN_COLUMNS),
    "musicnn + mfcc, chroma, tempo (185)": _columns("mfcc_", "chroma_", "tempo") + tuple(MUSICNN_COLUMNS),
}


@dataclass(frozen=True)
class Architecture:
    """A Keras MLP: hidden layers as (units, activation), then a softmax over the genres."""

    name: str
    feature_group: str
    hidden: tuple[tuple[int, str], ...]
    original: bool = True  # part of the original study's table

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The input columns, in ALL_FEATURE_COLUMNS order (the classic ones, then the musicnn ones)."""
        return FEATURE_GROUPS[self.feature_group]

    def describe(self) -> str:
        """The hidden layers in the study's notation, e.g. '85R 75R 65L' (R = relu, L = linear); 'none' for a
        softmax regression (no hidden layer)."""
        return " ".join(f"{units}{'R' if act == 'relu' else 'L'}" for units, act in self.hidden) or "none"


def _layers(spec: str) -> tuple[tuple[int, str], ...]:
    """'85R 75L' -> ((85, 'relu'), (75, 'linear'))."""
    names = {"R": "relu", "L": "linear"}
    return tuple((int(tok[:-1]), names[tok[-1]]) for tok in spec.split())


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("30col", "mfcc_mean (30)", _layers("30R 25R 20L 15L")),
        Architecture("42col", "mfcc_mean + chroma_mean (42)", _layers("42R 35L 24R 15L")),
        Architecture("60col", "mfcc mean+std (60)", _layers("60R 50L 40L 30R 20L")),
        Architecture("85col", "mfcc, chroma, tempo (85)", _layers("85R 75R 65L 55R 45L 35R 25R")),
        Architecture("87col", "85 + zcr (87)", _layers("87R 75R 65L 55R 45L 35R 25R")),
        Architecture("89col", "85 + zcr + rolloff (89)", _layers("89R 79R 69L 59R 49L 39R 29R")),
        Architecture("89col-centroid", "85 + zcr + centroid (89)", _layers("89R 79R 69L 59R 49L 39R 29R")),
        # our own extra: a wider, shallower MLP on all 91 features
        Architecture("wide91", "all features (91)", _layers("256R 128R"), original=False),
        # ours, on the musicnn columns: the seed's 7-hidden-layer table with the input width first (as 87col), on
        # the 100 musicnn columns and on them beside the 85 of 85col; and the softmax regression head (no hidden
        # layer: the output layer on the standardised inputs)
        Architecture("musicnn100", "musicnn (100)", _layers("100R 75R 65L 55R 45L 35R 25R"), original=False),
        Architecture("musicnn185", "musicnn + mfcc, chroma, tempo (185)", _layers("185R 75R 65L 55R 45L 35R 25R"),
                     original=False),
        Architecture("musicnn100-linear", "musicnn (100)", (), original=False),
        Architecture("musicnn185-linear", "musicnn + mfcc, chroma, tempo (185)", (), original=False),
    )
}
DEFAULT_ARCHITECTURE = "85col"  # 02's layer table row unless told (the seed's 85-input network)


@dataclass(frozen=True)
class Recipe:
    """How an MLP is trained (Adam + categorical cross-entropy, plus optional regularisation).

    The learning rate decays with the epoch number only (lr / (1 + epoch / lr_decay_epochs)), never with the
    planned total, so the model after 100 epochs of an 800-epoch run is the model a 100-epoch run gives.
    """

    name: str
    learning_rate: float = 1e-3
    lr_decay_epochs: float | None = None
    dropout: float = 0.0  # after every hidden layer
    input_noise: float = 0.0  # std of Gaussian noise added to the standardised inputs
    label_smoothing: float = 0.0
    weight_decay: float = 0.0  # decoupled (AdamW-style): w -= lr * weight_decay * w each step, kernels only


_REGULARISED = Recipe(
    "regularised", learning_rate=1e-3, lr_decay_epochs=50.0, dropout=0.2, input_noise=0.2, label_smoothing=0.2,
)

RECIPES: dict[str, Recipe] = {
    # the original study: plain Adam (Keras defaults), categorical cross-entropy
    "original": Recipe("original"),
    # ours: same layers, regularised training
    "regularised": _REGULARISED,
    # ours: the regularised recipe with dropout 0.3 (the best ten-member 85col ensemble on valid in a scratch
    # round of recipes; README, "What was tried on valid")
    "regularised-d30": replace(_REGULARISED, name="regularised-d30", dropout=0.3),
    # ours, for the wide extra MLP: more units, more dropout
    "regularised-wide": Recipe(
        "regularised-wide", learning_rate=1e-3, lr_decay_epochs=50.0, dropout=0.5, input_noise=0.3,
        label_smoothing=0.1,
    ),
    # ours, for the softmax regression heads (no hidden layer, so no dropout): strong decoupled weight decay and
    # input noise, the rate never decayed (a scratch round of artist-grouped 5-fold CV inside train, seed 0: weight
    # decay 0.3 / 1 / 3 x input noise 0 / 0.5 / 1 all gave 75-78 % at their best epoch count on both input sets,
    # within the noise of 443 clips; this is the middle setting)
    "linear-wd": Recipe("linear-wd", learning_rate=1e-3, input_noise=0.5, weight_decay=1.0),
}


@dataclass(frozen=True)
class Candidate:
    """One row of the model comparison: an MLP (architecture + recipe) or a scikit-learn baseline."""

    name: str
    kind: str  # "mlp" or "sklearn"
    architecture: str | None = None
    recipe: str | None = None
    sklearn_model: str | None = None  # "logreg" or "svm-rbf"
    feature_group: str | None = None
    note: str = ""
    members: int = 1  # an ensemble: this many copies trained from different initialisations, probabilities averaged

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The input columns, in FEATURE_COLUMNS order."""
        if self.kind == "mlp":
            return ARCHITECTURES[self.architecture].feature_columns
        return FEATURE_GROUPS[self.feature_group]


def candidate_name(architecture: str, recipe: str, members: int = 1) -> str:
    """Name of an MLP candidate in results tables: '85col' (original recipe), '85col+reg' (regularised),
    '85col+reg-d30' (regularised with dropout 0.3), '85col+reg-ens10' (an ensemble of 10), 'musicnn100-linear+wd'
    (a softmax regression with weight decay)."""
    suffix = {"original": "", "regularised-d30": "+reg-d30", "linear-wd": "+wd"}.get(recipe, "+reg")
    name = architecture + suffix
    return name + (f"-ens{members}" if members > 1 else "")


def default_recipe(architecture: str) -> str:
    """The regularised recipe used with an architecture (the one its '+reg' candidate uses; '+wd' for a softmax
    regression head)."""
    if not ARCHITECTURES[architecture].hidden:
        return "linear-wd"
    return "regularised-wide" if architecture == "wide91" else "regularised"


def _mlp(arch: str, recipe: str, note: str = "", members: int = 1) -> Candidate:
    return Candidate(candidate_name(arch, recipe, members), "mlp", architecture=arch, recipe=recipe, note=note,
                     members=members)


ORIGINAL_CANDIDATES: tuple[str, ...] = tuple(a.name for a in ARCHITECTURES.values() if a.original)
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        *(_mlp(a, "original", "original study") for a in ORIGINAL_CANDIDATES),
        _mlp("85col", "regularised", "shipped network, regularised training"),
        _mlp("89col", "regularised", "ours"),
        _mlp("wide91", "regularised-wide", "ours"),
        _mlp("85col", "regularised", "ours: an ensemble of 10 85col+reg networks", members=10),
        _mlp("85col", "regularised-d30", "ours: an ensemble of 10 85col+reg networks with dropout 0.3", members=10),
        Candidate("logreg91", "sklearn", sklearn_model="logreg", feature_group="all features (91)",
                  note="baseline"),
        Candidate("svm-rbf91", "sklearn", sklearn_model="svm-rbf", feature_group="all features (91)",
                  note="baseline"),
        # ours, on the musicnn columns (a CSV of functions_audio.FEATURE_SETS "musicnn" or "all")
        _mlp("musicnn100", "original", "ours: the seed's layer table on the 100 musicnn columns, original training"),
        _mlp("musicnn100", "regularised", "ours"),
        _mlp("musicnn185", "original", "ours: the seed's layer table on musicnn + the 85 of 85col, original training"),
        _mlp("musicnn185", "regularised", "ours"),
        _mlp("musicnn100-linear", "linear-wd", "ours: softmax regression on the musicnn columns, weight decay"),
        _mlp("musicnn185-linear", "linear-wd", "ours: softmax regression on musicnn + 85, weight decay"),
        _mlp("musicnn100", "regularised", "ours: an ensemble of 10 musicnn100+reg networks", members=10),
        _mlp("musicnn185", "regularised", "ours: an ensemble of 10 musicnn185+reg networks", members=10),
        _mlp("musicnn100", "regularised-d30", "ours: an ensemble of 10, dropout 0.3", members=10),
        _mlp("musicnn185", "regularised-d30", "ours: an ensemble of 10, dropout 0.3", members=10),
        Candidate("logreg-musicnn100", "sklearn", sklearn_model="logreg", feature_group="musicnn (100)",
                  note="baseline on the musicnn columns"),
        Candidate("logreg-musicnn185", "sklearn", sklearn_model="logreg",
                  feature_group="musicnn + mfcc, chroma, tempo (185)", note="baseline on musicnn + 85"),
    )
}


def _uses(candidate: Candidate, columns: Sequence[str]) -> bool:
    return bool(set(candidate.feature_columns) & set(columns))


# what 01 runs on a CSV of the classic features when no --candidates are named: every single network and baseline
# on them (an ensemble costs its members' trainings; name it to run it)
DEFAULT_CANDIDATES: tuple[str, ...] = tuple(name for name, c in CANDIDATES.items()
                                            if c.members == 1 and not _uses(c, MUSICNN_COLUMNS))


def default_candidates(csv_columns: Sequence[str]) -> tuple[str, ...]:
    """What 01 runs when no --candidates are named, for a CSV with these columns: every single network and
    baseline (no ensemble) on the feature sets the CSV has. DEFAULT_CANDIDATES for a CSV of the classic features
    (or one whose header could not be read: reading it then says what is wrong); with musicnn columns, the
    musicnn candidates too (those needing classic columns only if it has some)."""
    have = set(csv_columns)
    classic, musicnn = not have or bool(have & set(CLASSIC_COLUMNS)), bool(have & set(MUSICNN_COLUMNS))
    return tuple(name for name, c in CANDIDATES.items()
                 if c.members == 1 and (musicnn or not _uses(c, MUSICNN_COLUMNS))
                 and (classic or not _uses(c, CLASSIC_COLUMNS)))


def feature_set(columns: Sequence[str]) -> str:
    """The smallest of functions_audio's FEATURE_SETS ("classic", "musicnn", "all") holding every column."""
    from functions_audio import FEATURE_SETS

    return next(name for name, cols in sorted(FEATURE_SETS.items(), key=lambda item: len(item[1]))
                if set(columns) <= set(cols))

# The shipped default (data/pretrained/): the best cell of 01's artist-grouped 5-fold CV inside train (100 epochs,
# batch 32), chosen before any test read; its command, CV table and test figures are in docs/models.md, "The
# shipped model".
MUSICNN_CANDIDATE = candidate_name("musicnn185", "regularised", 10)
# documented fallbacks when there is no hyper-parameter run for the features CSV
DEFAULT_EPOCHS = 500
DEFAULT_BATCH = 32

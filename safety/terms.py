"""The term policy: per-category block and review phrases over normalised prompt text."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from app.config import setting
from app.stage import Decision
from app.kit.textmatch import LazyPattern, NativeAliases, PhraseIndex, fold, has_other_script, normalise, singular, tokens

DEFAULT_TERMS = Path(__file__).parent / "data" / "terms.toml"


class PolicyFileError(ValueError):
    pass


def check_dsa_category(category: str, keywords: list[str]) -> str | None:
    """None, or why a data file's DSA category and keywords would be refused by the DSA
    transparency database (app/dsa.py: the current schema, each keyword under its own category)."""
    from app import dsa

    if not category:
        return "needs a dsa_category" if keywords else None
    if category not in dsa.categories():
        return f"dsa_category {category} is not a category of the DSA database's current schema"
    wrong = [k for k in keywords if k not in dsa.keywords() or not dsa.keyword_fits(k, category)]
    return f"dsa_keywords {wrong} do not specify {category}" if wrong else None


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    dsa_category: str
    always_block: bool
    dsa_keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class TermHit:
    category: Category
    term: str
    decision: Decision


#: Words a frame lets stand for "..." or "@class*" ("strangle|strangled ... to death").
GAP_WORDS = 3


class Frames:
    """Word classes (`[classes]` in the term file) and the frames built from them: a frame is a
    term whose words are classes or alternatives, matched over the normalised words in order
    ("@kill @modifier* @person": "shoots his own children", "massacring shoppers"). Each space-
    separated token of a frame is one of
      "@name"   one form of class `name` (a form may have several words)
      "@name?"  ... or none
      "@name*"  zero to GAP_WORDS of them (the words a frame lets stand between its parts)
      "a|b"     one of these words or classes ("in_the_head": an underscore joins the words of one
                form; "@beat|@kill"); "rip~" is rip, rips, ripped, ripping (also in a class)
      "..."     zero to GAP_WORDS words of any kind
      "!a|b"    not followed by one of these ("cutting herself" but not "cutting herself a slice")
    A frame says what an act does to whom, so an everyday verb ("kill", "cut") only counts with its
    object: "killing time with friends" has no person right after the act."""

    def __init__(self, classes: dict[str, list[str]] | None = None, source: str = "<dict>"):
        self.source = source
        self.classes: dict[str, tuple[str, ...]] = {}
        for name, forms in (classes or {}).items():
            if not isinstance(forms, list) or not all(isinstance(f, str) and f.strip() for f in forms):
                raise PolicyFileError(f"{source}: classes.{name} must be a list of words or phrases")
            expanded = {_words(e) for f in forms for e in inflected(f)}
            self.classes[name] = tuple(sorted(expanded - {""}, key=len, reverse=True))

    @staticmethod
    def is_frame(term: str) -> bool:
        """Anything but a plain phrase: a gap, alternatives, a class, a joined or inflected form."""
        return " ... " in term or any(mark in term for mark in "@_~|")

    def _alternatives(self, token: str, term: str) -> str:
        return "(?:" + "|".join(re.escape(f) for f in sorted(self._forms(token, term), key=len, reverse=True)) + ")"

    def _forms(self, token: str, term: str) -> set[str]:
        forms: set[str] = set()
        for part in token.split("|"):
            if part.startswith("@"):
                if part[1:] not in self.classes:
                    raise PolicyFileError(f"{self.source}: frame {term!r} uses the unknown class {part}")
                forms.update(self.classes[part[1:]])
            else:
                forms.update(w for w in (_words(e) for e in inflected(part.replace("_", " "))) if w)
        if not forms:
            raise PolicyFileError(f"{self.source}: frame {term!r} has an empty part {token!r}")
        return forms

    def pattern(self, term: str) -> LazyPattern:
        """The frame as a pattern over " " + _words(text) + " " (compiled when first tried)."""
        pieces = []
        for token in term.split():
            if token == "...":
                pieces.append(rf"(?:\S+ ){{0,{GAP_WORDS}}}")
            elif token.startswith("!"):
                pieces.append(f"(?!{self._alternatives(token[1:], term)} )")
            elif token.endswith("?"):
                pieces.append(f"(?:{self._alternatives(token[:-1], term)} )?")
            elif token.endswith("*"):
                pieces.append(f"(?:{self._alternatives(token[:-1], term)} ){{0,{GAP_WORDS}}}")
            else:
                pieces.append(f"{self._alternatives(token, term)} ")
        return LazyPattern("(?<= )" + "".join(pieces))

    def anchors(self, term: str) -> frozenset[str]:
        """Words one of which a text must have for the frame to match: the first words of the
        forms of its most selective required token (most texts skip the pattern on a set lookup)."""
        required = [t for t in term.split() if t != "..." and not t.startswith("!") and not t.endswith(("?", "*"))]
        firsts = [frozenset(f.split()[0] for f in self._forms(t, term)) for t in required]
        # a token that may start with a function word ("a" in Spanish "mata a") anchors almost
        # every text: any other token is a better anchor
        return min(firsts, key=lambda words: (not words.isdisjoint(_FUNCTION_WORDS), len(words))) \
            if firsts else frozenset()


_VOWELS = set("aeiou")
#: Words in most texts of the languages the term file covers (normalised: "à" is "a").
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for with and or is are was be it he she they his her their i you we "
    "al el la las los lo le les un una uno une des du de del da do das dos die der den dem ein eine und "
    "il di e et y o em no na se si su sa ve bir ile dan yang di ke".split())


def inflected(form: str) -> list[str]:
    """A form with "~" after a verb ("rip~ through") as every regular inflection of that verb:
    rip, rips, ripped, ripping through. Irregular forms are listed as they are ("tore")."""
    if "~" not in form:
        return [form]
    out = [""]
    for word in form.split():
        if not word.endswith("~"):
            out = [f"{o} {word}" for o in out]
            continue
        w = word[:-1]
        if w.endswith("e"):
            forms = [w, w + "s", w + "d", w[:-1] + "ing"]
        elif len(w) > 1 and w.endswith("y") and w[-2] not in _VOWELS:
            forms = [w, w[:-1] + "ies", w[:-1] + "ied", w + "ing"]
        elif w.endswith(("s", "sh", "ch", "x", "z")):
            forms = [w, w + "es", w + "ed", w + "ing"]
        else:
            forms = [w, w + "s", w + "ed", w + "ing"]
            if len(w) >= 3 and w[-1] not in _VOWELS | set("wxy") and w[-2] in _VOWELS and w[-3] not in _VOWELS:
                forms += [w + w[-1] + "ed", w + w[-1] + "ing"]   # rip: ripped, ripping
        out = [f"{o} {f}" for o in out for f in forms]
    return [o.strip() for o in out]


def _words(text: str) -> str:
    """Normalised words with simple plurals folded, as the phrase index reads them ("slices" is "slice")."""
    return " ".join(singular(w) for w in normalise(text).split())


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyFileError(f"cannot read term policy {path}: {exc}") from exc


def merged(base: dict, part: dict, source: str) -> dict:
    """`base` with an included file's classes added and its categories' block/review lists
    appended; the version names both ("2026-12-03.4+2026-12-03.1")."""
    out = {**base, "classes": dict(base.get("classes", {})),
           "categories": {k: dict(v) for k, v in base.get("categories", {}).items()}}
    clash = set(out["classes"]) & set(part.get("classes", {}))
    if clash:
        raise PolicyFileError(f"{source}: classes {sorted(clash)} are defined twice")
    out["classes"].update(part.get("classes", {}))
    for name, table in part.get("categories", {}).items():
        if name not in out["categories"]:
            raise PolicyFileError(f"{source}: category {name} is not in the term policy")
        if set(table) - {"block", "review"}:
            raise PolicyFileError(f"{source}: categories.{name} may only add block and review terms")
        for key, terms in table.items():
            out["categories"][name][key] = [*out["categories"][name].get(key, []), *terms]
    out["version"] = f"{base.get('version')}+{part.get('version', 'unversioned')}"
    return out


class TermPolicy:
    def __init__(self, version: str, categories: dict[str, Category], index: PhraseIndex,
                 minor_terms: PhraseIndex, minors_category: Category | None,
                 frames: tuple[tuple[LazyPattern, frozenset[str], TermHit], ...] = (),
                 native: NativeAliases | None = None, native_minor_terms: NativeAliases | None = None,
                 exceptions: PhraseIndex | None = None):
        self.version = version
        self.categories = categories
        self._index = index
        self._minor_terms = minor_terms
        self._minors_category = minors_category
        self._frames = frames
        self._native = native if native is not None else NativeAliases()
        self._native_minor_terms = native_minor_terms if native_minor_terms is not None else NativeAliases()
        self._exceptions = exceptions if exceptions is not None else PhraseIndex()

    @classmethod
    def from_file(cls, path: Path) -> "TermPolicy":
        raw = _read_toml(Path(path))
        for name in raw.pop("include", []):
            raw = merged(raw, _read_toml(Path(path).parent / name), f"{path}: include {name}")
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> "TermPolicy":
        if "version" not in raw or not isinstance(raw.get("categories"), dict) or not raw["categories"]:
            raise PolicyFileError(f"{source}: needs `version` and at least one [categories.NAME] table")
        index: PhraseIndex = PhraseIndex()
        minors: PhraseIndex = PhraseIndex()
        categories: dict[str, Category] = {}
        framed: list[tuple[LazyPattern, frozenset[str], TermHit]] = []
        frames = Frames(raw.get("classes"), source)
        native: NativeAliases[TermHit] = NativeAliases()
        exceptions: PhraseIndex = PhraseIndex()
        native_minors: NativeAliases[str] = NativeAliases()
        minors_category = None
        for name, table in raw["categories"].items():
            unknown = set(table) - {"label", "dsa_category", "dsa_keywords", "always_block", "block", "review",
                                    "minor_terms", "not_when"}
            if unknown:
                raise PolicyFileError(f"{source}: category {name} has unknown keys {sorted(unknown)}")
            dsa_problem = check_dsa_category(table.get("dsa_category", ""), table.get("dsa_keywords", []))
            if dsa_problem:
                raise PolicyFileError(f"{source}: category {name}: {dsa_problem}")
            cat = Category(name, table.get("label", name), table.get("dsa_category", ""),
                           bool(table.get("always_block", False)), tuple(table.get("dsa_keywords", ())))
            categories[name] = cat
            # An always-block category never sends anything to review: a hit blocks.
            review_decision = Decision.BLOCK if cat.always_block else Decision.REVIEW
            for key, decision in (("block", Decision.BLOCK), ("review", review_decision)):
                for term in table.get(key, []):
                    if Frames.is_frame(term):
                        framed.append((frames.pattern(term), frames.anchors(term), TermHit(cat, term, decision)))
                    elif has_other_script(term):  # matched in its own script (NativeAliases)
                        native.add(term, TermHit(cat, term, decision))
                    else:
                        index.add(term, TermHit(cat, term, decision))
            for idiom in table.get("not_when", []):
                if not isinstance(idiom, str) or not _words(idiom):
                    raise PolicyFileError(f"{source}: category {name}: not_when must be a list of phrases")
                for phrase in idiom_phrases(idiom):
                    exceptions.add(phrase, name)
            if table.get("minor_terms"):
                minors_category = cat
                for term in table["minor_terms"]:
                    (native_minors if has_other_script(term) else minors).add(term, term)
        return cls(str(raw["version"]), categories, index, minors, minors_category, tuple(framed), native,
                   native_minors, exceptions)

    @property
    def minors_category(self) -> Category | None:
        """The category whose `minor_terms` turn sexual content into content involving minors."""
        return self._minors_category

    def minor_reference(self, text: str) -> str | None:
        """The first reference to a minor in `text`: a `minor_terms` phrase ("schoolgirl", "young
        boy", "twelve year old") or an age under 18 in digits ("12 year old", "13yo", "15 y/o",
        "aged 9"), else None. Digits are read from the folded text: leetspeak would make "12yo" a word."""
        found = self._minor_terms.find(text)
        if found:
            return found[0].payload
        native = self._native_minor_terms.find(text)
        if native:
            return native[0][1]
        folded = fold(text)
        age = _MINOR_AGE.search(folded) or _MINOR_AGE_IN_WORDS.search(folded)
        if age is None and _AGE_SUFFIX.search(text):
            age = _MINOR_AGE_OTHER_SCRIPTS.search(text)
        return age.group(0) if age else None

    def without_idioms(self, text: str, categories: set[str]) -> tuple[str | None, set[str]]:
        """`text` as its words with every `not_when` idiom of `categories` taken out ("a teen cuts
        her hair" -> "teen"), or None where it says none of them; and the categories whose idioms
        it says. Read as written, else without its determiners and possessives (an idiom is
        written without them: "cut hair")."""
        rest, said = None, set()
        for words in (tokens(text), tokens(without_fillers(text))):
            found = [m for m in self._exceptions.every_match(words) if m.payload in categories]
            said |= {m.payload for m in found}
            if found and rest is None:
                rest = " ".join(w for w in _masked(words, found) if w)
        return rest, said

    def evaluate(self, text: str) -> list[TermHit]:
        """Every term in `text`, read as written and once more without its determiners and
        possessives, so a term's words with those between them still match ("slits the mother's
        throat" is "slit throat"; issue 15)."""
        words = tokens(text)
        hits = list(dict.fromkeys(m.payload for m in self._index.find_in_tokens(words)))
        # The same words without the fillers (the tokens are cached per text: no second reading of
        # a long prompt); a possessive noun needs the text itself, its "'s" is gone from the tokens.
        compact = tokens(without_fillers(text)) if "'" in text or "\u2019" in text else \
            [w for w in words if w not in _FILLER_WORDS]
        if len(compact) != len(words):
            hits += [h for h in dict.fromkeys(m.payload for m in self._index.find_in_tokens(compact)) if h not in hits]
        plain = set(hits)
        hits += [hit for hit in dict.fromkeys(h for _, h in self._native.find(text)) if hit not in hits]
        if self._frames:  # over the text as written: a frame may need its possessive ("cuts her wrists")
            words = f" {_words(text)} "
            present = set(words.split())
            hits += [hit for pattern, anchors, hit in self._frames
                     if hit not in hits and not anchors.isdisjoint(present) and pattern.search(words)]
        # A term said only inside one of its category's `not_when` phrases ("fake blood", "suicide
        # prevention", "the naked eye") says nothing: the phrase is the everyday thing. Said
        # elsewhere too ("blood everywhere, then a blood test"), it stays. Block terms too: an
        # idiom blocked "kids stargazing with the naked eye" as sexual content involving minors.
        if hits and self._exceptions.size:
            read = tokens(text)
            found = self._exceptions.every_match(read)
            if found:
                still = {m.payload for m in self._index.find_in_tokens(_masked(read, found))}
                excepted = {m.payload for m in found}
                hits = [h for h in hits if h.category.name not in excepted or h not in plain or h in still]
        # Sexual terms next to a reference to a minor are sexual content involving minors.
        if self._minors_category is not None and any(h.category.name == "sexual" for h in hits):
            minor = self.minor_reference(text)
            if minor:
                hits.append(TermHit(self._minors_category, minor, Decision.BLOCK))
        return hits


# An age from 0 to 17 written in digits: "12 year old", "12-year-old", "12 years old", "10 year olds", "12yo",
# "12 y/o", "12 y.o.", "aged 12", "age: 12". Not "12 years" of anything else, not "112 year old".
_MINOR_AGE = re.compile(
    r"(?<![\d.])(?:1[0-7]|[0-9])\s*(?:-\s*)?(?:years?[\s-]*olds?|yrs?[\s-]*olds?|y\s*/\s*o|y\.\s*o\.?|yo)\b"
    r"|\bage[sd]?\s*:?\s*(?:1[0-7]|[0-9])(?![\d.])")

_UNDER_18_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                   "sixteen|seventeen")
# An age under 18 in words where it can only be a person's: "a girl of fourteen", "a boy of 12",
# "aged fourteen". Not "aged two years" (cheese and wine are aged too), nor "a son of two kings":
# a count of something is followed by what it counts.
_NOT_AN_AGE = r"(?!\s*(?:years?|months?|weeks?|days?)\b(?!\s*old))(?!\s+(?:[^\W\d_]+s|men|women|people|children)\b)"
_MINOR_AGE_IN_WORDS = re.compile(
    r"\b(?:girl|boy|lad|lass|child|kid|daughter|son|youngster|pupil|student|schoolgirl|schoolboy)s?\s+of\s+"
    rf"(?:{_UNDER_18_WORDS}|1[0-7]|[0-9])\b{_NOT_AN_AGE}"
    rf"|\baged\s+(?:{_UNDER_18_WORDS})\b{_NOT_AN_AGE}")

# An age under 18 as Chinese and Japanese ("十四岁", "14歳") and Russian ("14 лет", "14-летняя") write it.
_MINOR_AGE_OTHER_SCRIPTS = re.compile(
    r"(?<![\d一二三四五六七八九十])(?:1[0-7]|[0-9]|十[一二三四五六七]?|[一二三四五六七八九])\s*(?:岁|歲|歳|才)"
    r"|(?<!\d)(?:1[0-7]|[0-9])\s*-?\s*(?:лет|летн)")

_AGE_SUFFIX = re.compile(r"[岁歲歳才]|лет")

# Words that may stand between a term's words without changing what it says: determiners,
# possessive pronouns and possessive nouns ("the mother's").
_FILLER_WORDS = frozenset("the a an his her hers their its my your our this that these those".split())
_FILLERS = re.compile(r"(?i)\b(?:" + "|".join(sorted(_FILLER_WORDS)) + r")\b")
_POSSESSIVE = re.compile(r"\b[^\W\d_]+(?:'s|\u2019s|s'|s\u2019)(?!\w)")


def _masked(words: list[str], found: list) -> list[str]:
    """`words` with the words of every match in `found` blanked (positions kept)."""
    masked = list(words)
    for m in found:
        masked[m.start:m.end] = [""] * (m.end - m.start)
    return masked


def idiom_phrases(idiom: str) -> list[str]:
    """A `not_when` idiom's phrases: "cut|cuts own? hair|bangs" is "cut hair", "cuts own bangs", ...
    ("a|b": one of the forms; "split_ends": one form of two words; "word?": with or without it)."""
    phrases = [""]
    for token in idiom.split():
        forms = token.rstrip("?").replace("_", " ").split("|") + ([""] if token.endswith("?") else [])
        phrases = [f"{p} {f}".strip() for p in phrases for f in forms]
    return phrases


def without_fillers(text: str) -> str:
    text = _FILLERS.sub(" ", text)
    if "'" in text or "\u2019" in text:
        text = _POSSESSIVE.sub(" ", text)
    return " ".join(text.split())


# Markers of a text told as a sequence of steps: "step 1", "shot 2", "scene B", "2." / "3)" /
# "(4)" / "5 -" before a word, and the order words of a spoken list.
_NUMBERED_STEP = re.compile(r"(?i)\b(?:step|shot|scene|clip|panel|frame|part)\s*(?:\d{1,2}|one|two|three|four|five|six|seven|eight|"
                           r"nine|ten|[a-h](?=\s*[:.)]))"
                           r"|(?:^|(?<=[\s;:,]))\(?\d{1,2}\s*(?:[.):]|\s-)(?=\s*[^\W\d_])"
                           r"|(?:^|(?<=[\s;:,]))\([a-h]\)(?=\s*[^\W\d_])")
_TIMESTAMP = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")
# "1 she fills a glass 2 she holds her nose 3 ...": bare numbers count as steps only in a run 1, 2, 3, ...
_BARE_NUMBER = re.compile(r"(?:^|(?<=[\s;:,]))(\d{1,2})\s+(?=[^\W\d_])")
# "first scene ..., second scene ..., final scene ...": an ordinal naming a part of a sequence
_ORDINAL_STEP = re.compile(r"(?i)\b(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|final|last)\s+"
                           r"(?:step|shot|scene|clip|panel|frame|part|beat|cut)s?\b")
# "Opening: ... Middle: ... End: ...": a story told in labelled parts
_PART_LABEL = re.compile(r"(?i)\b(?:opening|beginning|intro|middle|midpoint|climax|end|ending|finale|outro)\s*:")
# What names a list of shots or steps, whose items may follow it after a colon
_LIST_NAMES = r"sequence|storyboard|timeline|shot list|step by step|shot by shot|beat sheet|montage"
_LIST_NAME = re.compile(rf"(?i)\b(?:{_LIST_NAMES})\b")
# What says a text is told as a sequence: a list's name, or how a sequence starts
_SEQUENCE = re.compile(rf"(?i)\b(?:start with|begin with|open on|opens on|intro|beat by beat|part one|in \d parts?|"
                       rf"{_LIST_NAMES})\b")
_ORDER_WORD = re.compile(r"(?i)\b(?:first(?:ly)?|second(?:ly)?|then|next|after that|afterwards|finally|lastly)\b")


def steps_in(text: str) -> int:
    """How many steps `text` is told in: numbered steps or timestamps ("0:05") when it has two or
    more; bare numbers counting 1, 2, 3 or more; ordinal parts ("second scene") or labelled parts
    ("Middle:") when three or more; else order words when three or more come and the text says it
    is a sequence ("first climb ..., then ..., then let go"; "start with ..., then ..., then"), or
    four or more do; else the three or more items of a list that a sequence's name introduces
    ("shot list: the garage, he seals the door, starts the car"); 0 for a text that is not a list
    of steps."""
    numbered = max(len(_NUMBERED_STEP.findall(text)), len(_TIMESTAMP.findall(text)))
    if numbered >= 2:
        return numbered
    parts = max(_counting_run(text), len(_ORDINAL_STEP.findall(text)), len(_PART_LABEL.findall(text)))
    if parts >= 3:
        return parts
    order = [m.group(0).lower() for m in _ORDER_WORD.finditer(text)]
    if len(order) >= 4 or (len(order) >= 3 and (order[0].startswith("first") or _SEQUENCE.search(text))):
        return len(order)
    return _listed_items(text)


def _counting_run(text: str) -> int:
    """The longest run of bare numbers counting up from 1 in order ("1 ... 2 ... 3 ..."), as long
    as it is; "2 cats and 3 dogs" counts nothing."""
    best = expected = 0
    for m in _BARE_NUMBER.finditer(text):
        n = int(m.group(1))
        if n == expected + 1:
            expected = n
        elif n == 1:
            expected = 1
        else:
            continue
        best = max(best, expected)
    return best


def _listed_items(text: str) -> int:
    """The items (three or more, split at commas and semicolons) of the sentence after the colon
    that follows, in the same sentence, a list's name ("shot list:", "montage ... :"), else 0. Not
    after "open on ...:", which introduces a scene ("before the war: shops, kids playing, a wedding")."""
    for named in _LIST_NAME.finditer(text):
        sentence = re.split(r"[.!?\n]", text[named.end():], maxsplit=1)[0]
        if ":" in sentence:
            items = [i for i in re.split(r"[,;]", sentence.split(":", 1)[1]) if i.strip()]
            return len(items) if len(items) >= 3 else 0
    return 0


@lru_cache(maxsize=4)
def load_policy(path: str | None = None) -> TermPolicy:
    return TermPolicy.from_file(Path(path or setting("GL_SAFETY_TERMS") or DEFAULT_TERMS))

import pytest

from app.stage import Decision, Requester, StageContext
from copyright.catalogue import Catalogue, load_catalogue
from copyright.stages import RightsStage


@pytest.fixture(scope="module")
def stage():
    return RightsStage()


@pytest.fixture
def check(rt):
    def _check(stage, prompt):
        with rt.db.transaction() as s:
            return stage.check(StageContext("g", prompt, [], None, Requester("u", "u", False), s))
    return _check


def test_shipped_catalogue_is_large_and_owned():
    cat = load_catalogue()
    assert len(cat.works) >= 200
    assert all(w.owner and w.owner != "unknown" for w in cat.works)
    assert len({w.id for w in cat.works}) == len(cat.works)


@pytest.mark.parametrize("prompt, work_id", [
    ("Garfield eating lasagna", "garfield"),
    ("Bugs Bunny eating a carrot", "bugs-bunny"),
    ("bugs bunnies in a field", "bugs-bunny"),           # plural
    ("Spiderman swinging through the city", "spider-man"),
    ("P1kachu in the rain", "pikachu"),                   # leetspeak
    ("Mickey Mouse's house", "mickey-mouse"),              # possessive
    ("S p o n g e B o b under the sea", "spongebob-squarepants"),
    ("STAR WARS!!! lightsabers in a garage", "star-wars"),  # shouted (issue 15)
    ("a Star Wars fan film", "star-wars"),
    # Other scripts (issue 15): titles and characters as the language writes them.
    ("皮卡丘在雨中跳舞", "pikachu"),
    ("Гарри Поттер летит на метле", "harry-potter"),
    ("스파이더맨이 도시 위를 난다", "spider-man"),
    ("الرجل العنكبوت في المدينة", "spider-man"),
    ("スター・ウォーズの宇宙戦争", "star-wars"),
    ("हैरी पॉटर झाड़ू पर उड़ता है", "harry-potter"),        # Hindi
    ("мультфильм про Человека-паука", "spider-man"),          # every word of a Russian name declines
    ("Procurando Nemo: um peixinho perdido no oceano", "nemo"),   # a local title in Latin letters
    ("Die Eiskönigin singt im Schloss", "frozen"),
])
def test_named_works_are_blocked(stage, check, prompt, work_id):
    v = check(stage, prompt)
    assert v.decision == Decision.BLOCK, v.reasons
    reason = v.reasons[0]
    assert reason.code == "copyright_default_deny" and reason.details["work_id"] == work_id
    assert reason.details["owner"]


@pytest.mark.parametrize("prompt", ["a frozen lake at dawn", "cars in traffic", "a brave firefighter",
                                    "a green cube sliding down a ramp",
                                    "孙悟空大闹天宫",  # the Monkey King of Journey to the West: public domain
                                    "маленькая кошка играет"])
def test_ordinary_words_are_allowed(stage, check, prompt):
    assert check(stage, prompt).decision == Decision.ALLOW


def test_a_cat_eating_lasagna_is_at_most_reviewed(stage, check):
    # No name in it, but Garfield's signature pair: the work head reads it at its review cut-off, and
    # no everyday counterpart is nearer than Garfield (a person decides; it is never blocked).
    v = check(stage, "a cat eating lasagna")
    assert v.decision in (Decision.ALLOW, Decision.REVIEW)
    assert all(r.details.get("work_id") == "garfield" for r in v.reasons)


def test_a_titles_plural_word_stays_plural(stage, check):
    """"a star war between two alien fleets" was blocked as Star Wars (issue 15): the title's
    plural must be there for the title to match; the classifier's joined-up reading ("starwar")
    still asks a reviewer, which is what unsure means."""
    v = check(stage, "a star war between two alien fleets")
    assert v.decision == Decision.REVIEW, v.reasons  # "Starwars" joined up, unsure: a reviewer looks
    assert check(stage, "two Star Wars fans in costume").decision == Decision.BLOCK


@pytest.mark.parametrize("prompt", ["Elsa building a snowman", "a scene from the movie frozen",
                                    "an animated film version of up", "frozen, the disney movie",
                                    # titles in other languages that are also phrases there
                                    "у неё холодное сердце", "纪录片：一头年迈的狮子王守护着狮群",
                                    "uma guerra nas estrelas entre duas frotas"])
def test_ambiguous_titles_as_names_or_in_context_go_to_review(stage, check, prompt):
    v = check(stage, prompt)
    assert v.decision == Decision.REVIEW and v.reasons[0].code == "possible_copyrighted_work"


@pytest.mark.parametrize("prompt", ["close-up of an old film projector clicking in a dark room",
                                    "a kid playing a video game in the back seat of a car on a long road trip",
                                    "a car chase in a cartoon"])
def test_a_word_that_says_a_work_is_meant_counts_only_next_to_the_ambiguous_title(stage, check, prompt):
    # "film", "video game", "cartoon" are there, but not next to "up" or "car": 218 of the safety
    # set's 6,759 benign prompts were reviewed so, 65 now
    assert check(stage, prompt).decision == Decision.ALLOW


def test_loader_reads_a_custom_catalogue(tmp_path, check):
    path = tmp_path / "works.json"
    path.write_text('{"version": "t1", "works": [{"id": "blorp", "title": "Captain Blorp", "owner": "Us",'
                    ' "kind": "character", "aliases": ["Blorpy"], "ambiguous_aliases": [], "descriptions": []}]}')
    stage = RightsStage(Catalogue.from_file(path))
    assert stage.version.startswith("rights-4:ip-text-1:") and "catalogue-t1" in stage.version
    assert check(stage, "blorpy dancing").decision == Decision.BLOCK
    assert check(stage, "Garfield eating lasagna").decision == Decision.ALLOW

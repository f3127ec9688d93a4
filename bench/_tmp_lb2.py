import json, sys
import safety.prompt_classifier as pc
from app.kit.text_embedding import _SENTENCE_END, LONG_TEXT_WORDS
from safety.prompt_classifier import load_prompt_classifier, with_heads
clf = with_heads(load_prompt_classifier())
split = sys.argv[1]
benign = sys.argv[2] == "benign"
rows=[json.loads(l) for l in open('safety/data/eval_prompts.jsonl')]
rows=[r for r in rows if r['split'] in split.split(",") and (not r['labels']) == benign and len(r['prompt'].split())>LONG_TEXT_WORDS]
orig = pc.PromptClassifier._read
def sent_read(self, prompt):
    if len(prompt.split()) > LONG_TEXT_WORDS:
        sents = [s.strip() for s in _SENTENCE_END.split(prompt) if len(s.split()) >= 3]
        if len(sents) >= 2:
            return pc.Reading(self.reader, sents, self.reader.scores(sents))
    return orig(self, prompt)
out = {}
for name, fn in (("whole", orig), ("sentences", sent_read)):
    pc.PromptClassifier._read = fn
    out[name] = [clf.classify(r['prompt']) for r in rows]
for r, a, b in zip(rows, out["whole"], out["sentences"]):
    if a.decision != b.decision:
        print(a.decision.value, "->", b.decision.value, [(f.category.name, f.decision.value, f.message()[:150]) for f in b.findings], "|", r['prompt'][:200])

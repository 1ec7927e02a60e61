# DPO, derived and verified. `make render` and `make test` install what they need first.
SHELL := /bin/bash
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Installed first and pinned, so that a machine without a GPU never pulls CUDA wheels.
TORCH_SPEC ?= torch==2.13.0
QUALITY ?= medium
# The clips' voice (scenes/narration/voices.py); none: silent clips, timed by reading time.
NARRATION ?= voice
RENDERS := renders
# The clips come from scenes/catalog.py, the one list of them: it needs only the standard
# library, so make reads it before any virtualenv exists. A failed read stops make here.
read_catalog = $(shell $(PYTHON) scenes/catalog.py $1)$(if $(filter 0,$(.SHELLSTATUS)),,\
  $(error cannot read the clips: '$(PYTHON) scenes/catalog.py $1' failed (PYTHON=... sets the Python 3 to use)))
CLIPS := $(call read_catalog,names)
LECTURE_CLIPS := $(call read_catalog,lecture)
CLIP_FILES := mp4 srt vtt chapters.vtt png

VALID_QUALITIES := low medium high
ifeq ($(filter $(QUALITY),$(VALID_QUALITIES)),)
$(error unknown QUALITY '$(QUALITY)'; valid values: $(VALID_QUALITIES))
endif
VALID_NARRATIONS := voice festival espeak-ng none
ifeq ($(filter $(NARRATION),$(VALID_NARRATIONS)),)
$(error unknown NARRATION '$(NARRATION)'; valid values: $(VALID_NARRATIONS))
endif

INSTALLED := $(VENV)/.installed
# The experiments of the chapter "β in practice and where DPO breaks" (their rule: below).
LIMITS_EXPERIMENTS := beta_sweep length unseen_mass no_exploration
LAB_SOURCES := $(wildcard lab/*.py lab/*/*.py)
SCENE_SHARED := scenes/base.py scenes/style.py scenes/widgets.py scenes/labdata.py scenes/caches.py \
	scenes/quantities.py scenes/catalog.py scenes/render.py scenes/manim_guards.py manim.cfg \
	$(wildcard scenes/narration/*.py)
# A lecturer's recordings replace the voice sentence by sentence (narration/recordings/README.md).
RECORDINGS := $(wildcard $(foreach ext,wav flac mp3 m4a ogg,narration/recordings/*.$(ext)))

.DEFAULT_GOAL := help
.PHONY: help setup system-deps test-deps render screenshot test lint bench clean distclean FORCE $(CLIPS)

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14
	@echo "Variables: QUALITY=low|medium|high (default medium), NARRATION=voice|festival|espeak-ng|none (default voice), PYTHON, TORCH_SPEC"
	@echo "Render one clip: make <clip> (or make $(RENDERS)/<clip>.mp4)   clips: $(CLIPS)"

setup: system-deps $(INSTALLED) ## install system packages (if missing) and the .venv

system-deps:
	@PYTHON=$(PYTHON) NARRATION=$(NARRATION) tools/ensure-system-deps.sh

# The test suite also drives a headless Chromium (tests/test_page.py opens the course page).
test-deps:
	@PYTHON=$(PYTHON) NARRATION=$(NARRATION) tools/ensure-system-deps.sh --browser

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python 3.11+ is needed; $(PYTHON) is $$($(PYTHON) --version 2>&1). Set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

render: $(RENDERS)/manifest.json $(RENDERS)/claims.json $(RENDERS)/index.html ## render every clip, the manifest, the claims report and the course page into renders/
	@echo "renders/: $$(cd $(RENDERS) && ls | tr '\n' ' ')"

# Each clip is its own target (`make step2_optimal_policy`), so `make -j` renders clips in
# parallel. One recipe makes all of a clip's files (a pattern rule with several targets) and
# publishes them as one set (scenes/publish.py): renders/ keeps the previous complete set until
# the new one replaces it. Make must never delete them itself, on an error or an interrupt
# (.DELETE_ON_ERROR would delete the old files the failed recipe did not touch): .PRECIOUS.
.PRECIOUS: $(foreach kind,$(CLIP_FILES),$(RENDERS)/%.$(kind)) build/clips/%.json \
  $(RENDERS)/manifest.json $(RENDERS)/claims.json $(RENDERS)/lab_report.md $(RENDERS)/transformer.json \
  $(RENDERS)/why_dpo.json $(RENDERS)/gradient.json $(RENDERS)/logprobs.json $(RENDERS)/index.html \
  $(LIMITS_EXPERIMENTS:%=$(RENDERS)/%.json)
$(CLIPS): %: $(foreach kind,$(CLIP_FILES),$(RENDERS)/%.$(kind))

# The remux that writes a clip's MP4 (index first, chapter markers) and its chapters file.
SCENE_SHARED += scenes/chapters.py scenes/mp4.py

$(foreach kind,$(CLIP_FILES),$(RENDERS)/%.$(kind)) build/clips/%.json: scenes/%.py $(SCENE_SHARED) $(LAB_SOURCES) build/quality build/narration-mode $(RECORDINGS) | system-deps $(INSTALLED)
	NARRATION=$(NARRATION) $(PY) -m scenes.render $* --quality $(QUALITY)

# Scene modules only some clips import: a clip depends on those it imports (the lecture on all).
clip_files = $(foreach kind,$(CLIP_FILES),$(RENDERS)/$1.$(kind)) build/clips/$1.json
$(call clip_files,step5_dpo_loss): scenes/morph.py
$(call clip_files,logprobs): scenes/code.py scenes/transformer_data.py
$(call clip_files,trained_transformer): scenes/transformer_data.py
$(call clip_files,limits): scenes/limits_failures.py scenes/limits_data.py
SCENE_HELPERS := scenes/morph.py scenes/code.py scenes/transformer_data.py \
	scenes/limits_failures.py scenes/limits_data.py

# Any other file asked of renders/: a clip's file of another kind, or a clip that does not exist.
not_a_clip_file = $(RENDERS)/$1 is not a file of a clip; its files are $(CLIP_FILES:%=$(RENDERS)/$(basename $1).%)
no_such_clip = no clip '$(basename $1)' to render; valid clips: $(CLIPS)
$(RENDERS)/%:
	$(error $(if $(filter $(basename $*),$(CLIPS)),$(call not_a_clip_file,$*),$(call no_such_clip,$*)))

# A target make has no rule for: name the clips and the targets.
.DEFAULT:
	$(error no target '$@'; clips: $(CLIPS); other targets: make help)

# The lecture plays the catalog's lecture clips: it depends on their sources, and renders after
# them (order only), so that it replays their cached video segments instead of rendering them again.
LECTURE_FILES := $(foreach kind,$(CLIP_FILES),$(RENDERS)/lecture.$(kind)) build/clips/lecture.json
$(LECTURE_FILES): $(LECTURE_CLIPS:%=scenes/%.py) $(SCENE_HELPERS) | $(LECTURE_CLIPS:%=build/clips/%.json)

# The manifest is its own small step, from the clips' records: parallel renders never race on it.
$(RENDERS)/manifest.json: $(CLIPS:%=build/clips/%.json) $(foreach c,$(CLIPS),$(foreach kind,$(CLIP_FILES),$(RENDERS)/$c.$(kind))) scenes/manifest.py | $(INSTALLED)
	$(PY) -m scenes.manifest --out $@

$(RENDERS)/claims.json: $(LAB_SOURCES) | $(INSTALLED)
	@mkdir -p $(RENDERS) build
	$(PY) -m lab.cli verify --json > build/claims.json.partial && mv build/claims.json.partial $@

# The course page: every clip with its captions, chapters, transcript and its claims' evidence.
$(RENDERS)/index.html: $(RENDERS)/manifest.json $(RENDERS)/claims.json scenes/page.py \
  scenes/page.css scenes/page.js | $(INSTALLED)
	$(PY) -m scenes.page --manifest $(RENDERS)/manifest.json --claims $(RENDERS)/claims.json --out $@

# A screenshot of the course page as it is, in headless Chromium (never into renders/). It
# renders nothing: a page of another QUALITY would otherwise be rendered again first.
SCREENSHOT ?= /tmp/dpo-course-page.png
screenshot: test-deps ## the course page in headless Chromium, as a PNG (SCREENSHOT=/tmp/dpo-course-page.png)
	@test -f $(RENDERS)/index.html || { echo "error: no $(RENDERS)/index.html: make render first" >&2; exit 1; }
	$(PY) tests/browser.py $(RENDERS)/index.html $(SCREENSHOT)

# The lab's training report: runs vs π*, figures/ (PNG, SVG), training.json, lab_report.md.
render: $(RENDERS)/lab_report.md
$(RENDERS)/lab_report.md: $(LAB_SOURCES) | $(INSTALLED)
	$(PY) -m lab.cli plots --out $(RENDERS)

# The tiny transformer trained with DPO against the closed-form π* (population mode): its runs as
# JSON and figures/transformer_policies.{png,svg}.
render: $(RENDERS)/transformer.json
$(RENDERS)/transformer.json: $(LAB_SOURCES) | $(INSTALLED)
	@mkdir -p build $(RENDERS)/figures
	$(PY) -m lab.cli train --policy transformer --json --plots $(RENDERS)/figures \
	  > build/transformer.json.partial && mv build/transformer.json.partial $@

# The why-DPO chapter's experiment: the models RLHF and DPO hold in memory, built from configs and
# counted, and the responses Z(x) sums over: why_dpo.json and figures/why_dpo_memory.{png,svg}.
render: $(RENDERS)/why_dpo.json
$(RENDERS)/why_dpo.json: $(LAB_SOURCES) | $(INSTALLED)
	$(PY) -m lab.cli experiment why-dpo --out $(RENDERS)

# The gradient chapter's experiment: each pair's weight σ(r̂_l − r̂_w) in a DPO run, and the run
# without the weight: gradient.json and figures/gradient_weights.{png,svg}.
render: $(RENDERS)/gradient.json
$(RENDERS)/gradient.json: $(LAB_SOURCES) | $(INSTALLED)
	$(PY) -m lab.cli experiment gradient --out $(RENDERS)

# The log-probs chapter's experiment: one pair's tokens, each token's log-probability under π_ref
# and the trained π_θ, the four sums: logprobs.json and figures/logprobs_tokens.{png,svg}.
render: $(RENDERS)/logprobs.json
$(RENDERS)/logprobs.json: $(LAB_SOURCES) | $(INSTALLED)
	$(PY) -m lab.cli experiment logprobs --out $(RENDERS)

# The chapter "β in practice and where DPO breaks", one experiment per part, each a JSON record and
# figures/NAME.{png,svg}: DPO trained at each β against the closed form (beta_sweep); labels biased
# toward longer answers, DPO and R-DPO at each bias and β (length); mass on responses no pair
# compared, its fixes, and the chosen log-prob falling while the margin grows (unseen_mass); a best
# response in no pair, DPO against an online method (no_exploration).
render: $(LIMITS_EXPERIMENTS:%=$(RENDERS)/%.json)
$(LIMITS_EXPERIMENTS:%=$(RENDERS)/%.json): $(RENDERS)/%.json: $(LAB_SOURCES) | $(INSTALLED)
	$(PY) -m lab.cli experiment $(subst _,-,$*) --out $(RENDERS)

# Rewritten only when QUALITY (NARRATION) changes, so that clips re-render at the new quality
# (with the new voice).
build/quality: FORCE
	@mkdir -p build; echo $(QUALITY) | cmp -s - $@ || echo $(QUALITY) > $@
build/narration-mode: FORCE
	@mkdir -p build; echo $(NARRATION) | cmp -s - $@ || echo $(NARRATION) > $@

test: test-deps $(INSTALLED) ## install what is missing, then run ruff and the whole test suite
	$(VENV)/bin/ruff check lab scenes tests bench
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED) ## ruff
	$(VENV)/bin/ruff check lab scenes tests bench

# Speed and memory goals live here, never in timed tests. Each script prints what it measured.
bench: $(INSTALLED) ## benchmarks: sequence_logprobs vs naive (memory, time); DPO trainer vs a plain loop
	$(PY) bench/bench_sequence_logprobs.py
	@echo
	$(PY) bench/bench_dpo_training.py

clean: ## remove build outputs and renders (keeps .venv)
	rm -rf build
	find $(RENDERS) -mindepth 1 ! -name README.md -delete

distclean: clean ## also remove the .venv
	rm -rf $(VENV)

"""Every size cap in one place: input files, JSON shape, scenario fields, model answers.

Inputs are untrusted (case files, imported records, model answers). Each cap bounds the work and
memory one input can cost; exceeding a cap is a clear, named refusal, never a hang.
"""

from __future__ import annotations

# Files read from disk (regular files only; see arena.files.read_regular_file).
MAX_CASE_FILE_BYTES = 4 * 1024 * 1024  # one scenario JSON file
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # one image file
MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard (width x height)
MAX_IMPORT_FILE_BYTES = 64 * 1024 * 1024  # a JSONL file to import
MAX_IMPORT_LINE_BYTES = 4 * 1024 * 1024  # one record of it
MAX_TRANSCRIPT_FILE_BYTES = 64 * 1024 * 1024  # one transcript JSON

# JSON shape.
MAX_JSON_DEPTH = 32  # nesting of objects/arrays
MAX_JSON_INT_DIGITS = 64  # an integer literal longer than this is refused

# Scenario fields (arena.schemas.scenario).
MAX_ID_CHARS = 64
MAX_PHRASE_CHARS = 200  # a synonym, keyword, label, plan phrase, rubric phrase
MAX_SHORT_TEXT_CHARS = 300  # titles, names, provenance strings
MAX_LONG_TEXT_CHARS = 4_000  # what the patient or clinician says, descriptions, probes
MAX_PHRASES_PER_LIST = 200  # synonyms of one item, any_of/all_of of one check
MAX_KEYWORDS = 100
MAX_FINDINGS = 100
MAX_DIFFERENTIAL = 50
MAX_FACTS = 200
MAX_RUBRIC_CRITERIA = 200
MAX_PLAN_PHRASES = 100
MAX_TAGS = 50
MAX_IMAGES = 16
MAX_PARAMS_DEPTH = 6  # generator/render params of an image source

# Model answers: text beyond this is cut before anyone reads it; the cut is recorded in the turn.
MAX_ANSWER_CHARS = 100_000

# Encounters.
MAX_TURNS = 50  # simulator turn budget ceiling

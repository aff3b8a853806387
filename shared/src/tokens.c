/*
 * tokens.c: token estimates by character class (see aihub/tokens.h).
 *
 * A byte-at-a-time UTF-8 decoder (its state survives between feeds, so any
 * split of the text gives the same result) hands each code point, with its
 * class, to a small state machine. The machine keeps one run in progress: a
 * word, a run of digits, a run of punctuation or a run of whitespace. A run
 * is priced when the next character shows it has ended, because what comes
 * next matters to OpenAI's pre-tokenizer: one punctuation mark before a
 * letter joins the word, a single space before a digit is a token of its
 * own, a line break right after punctuation joins it. Other characters (CJK,
 * emoji, non-ASCII symbols) are counted as they come. Pricing only counts
 * (the n[] array, indexed by enum feature); the weights are applied once at
 * the end, so a result costs the same however long the text was.
 *
 * URLs: the punctuation run "://" right after a word or digits ("https",
 * "s3") counts once and switches to URL mode, where each of
 * / : . ? = & # % ; + ~ - _ @ is a run of its own (a URL delimiter, or a
 * prefix when a letter follows, as "/docs" is one o200k token), until any
 * other character that is neither letter nor digit (a space, a quote, a
 * bracket, a non-ASCII character) ends the URL.
 *
 * Contractions: an apostrophe right after a word waits for the next
 * character; a letter continues the word ("don't" is one word plus a prefix
 * mark), anything else makes the apostrophe punctuation.
 */
#include "aihub/tokens.h"

#include <string.h>

/** Classes of code points. */
enum {
    C_LOWER,     /* ASCII a-z */
    C_UPPER,     /* ASCII A-Z */
    C_LATIN,     /* a non-ASCII Latin letter ("é", "ß", "ą") */
    C_LETTER,    /* a letter of another alphabet outside CJK (Greek, Cyrillic, Arabic, Indic, ...) */
    C_MARK,      /* a combining mark: joins a word, else counts as a wide symbol */
    C_DIGIT,     /* ASCII or fullwidth 0-9 */
    C_SPACE,     /* space, tab, no-break and other spaces */
    C_NL,        /* line breaks: LF, CR, VT, FF, NEL, U+2028, U+2029 */
    C_SYM,       /* ASCII punctuation and control characters */
    C_SYMW,      /* non-ASCII symbols and punctuation, and each byte of invalid UTF-8 */
    C_HAN,       /* Han ideographs */
    C_KANA,      /* Hiragana, Katakana */
    C_HANGUL,    /* Hangul syllables and jamo */
    C_EMOJI,     /* pictographs, regional indicators */
    C_EMOJI_MOD, /* ZWJ, variation selectors, skin tones, keycap, tags */
    C_END,       /* end of text (only as the "next" class when closing a run) */
};

/** Runs in progress. */
enum { R_NONE, R_WORD, R_DIGIT, R_SYM, R_WS };

/** What is counted; ah_tokens_counter_t.n is indexed by these. */
enum feature {
    F_WORD,
    F_WORD_EXTRA,
    F_WORD_FOREIGN,
    F_LATIN,
    F_LETTER,
    F_DIGIT,
    F_SPACE_ALONE,
    F_HAN,
    F_KANA,
    F_HANGUL,
    F_SYM_RUN,
    F_SYM_EXTRA,
    F_SYM_PREFIX,
    F_SYM_WIDE,
    F_URL,
    F_EMOJI,
    F_EMOJI_MOD,
    F_NEWLINE,
    F_NEWLINE_AFTER_SYM,
    F_SPACE_RUN,
    F_SPACE,
    F_COUNT
};

_Static_assert(F_COUNT <= sizeof(((ah_tokens_counter_t *)0)->n) / sizeof(int64_t), "ah_tokens_counter_t.n too small");

/*
 * The weight tables; tokens.h says where each comes from and how well it
 * does. OPENAI and GEMINI are least-squares fits of the relative error
 * against a reference tokenizer (shared/README.md says how to redo it),
 * rounded to two places. CLAUDE is OPENAI scaled to Anthropic's rule of
 * thumb, not fitted.
 */
static const ah_tokens_weights_t weights[] = {
    /* fitted to o200k_base; emoji and emoji_mod measured directly (mean over the emoji blocks: 2.2; ZWJ and
     * variation selectors 1, skin tones 2) */
    [AH_TOKENS_OPENAI] =
        {
            .word_free_chars = 7,
            .digits_per_token = 3,
            .word = 0.82,
            .word_char = 0.3,
            .word_foreign = 0.45,
            .latin_letter = 0.37,
            .other_letter = 0.05,
            .digit = 1.13,
            .space_alone = 1.1,
            .han = 0.81,
            .kana = 0.74,
            .hangul = 0.7,
            .symbol = 1.0,
            .symbol_char = 0.07,
            .symbol_prefix = 0.57,
            .symbol_wide = 0.96,
            .url_delim = 0.77,
            .emoji = 2.2,
            .emoji_mod = 1.0,
            .newline = 0.92,
            .newline_after_symbol = 0.27,
            .space_run = 0.99,
            .space = 0.15,
        },
    /* OPENAI x 1.4, which brings English prose to 3.5 characters per token (Anthropic's figure); CJK 1.2 per
     * character ("about one token per character, plus"; new-api's measured Claude multiplier is 1.21);
     * emoji 2.6 (new-api) */
    [AH_TOKENS_CLAUDE] =
        {
            .word_free_chars = 7,
            .digits_per_token = 3,
            .word = 1.15,
            .word_char = 0.42,
            .word_foreign = 0.63,
            .latin_letter = 0.52,
            .other_letter = 0.07,
            .digit = 1.58,
            .space_alone = 1.54,
            .han = 1.2,
            .kana = 1.2,
            .hangul = 1.2,
            .symbol = 1.4,
            .symbol_char = 0.1,
            .symbol_prefix = 0.79,
            .symbol_wide = 1.34,
            .url_delim = 1.08,
            .emoji = 2.6,
            .emoji_mod = 1.4,
            .newline = 1.28,
            .newline_after_symbol = 0.38,
            .space_run = 1.38,
            .space = 0.21,
        },
    /* fitted to Gemma 3's tokenizer, which the Gemma 3 report says is Gemini 2.0's (SentencePiece, 262k
     * entries, digits split one by one) */
    [AH_TOKENS_GEMINI] =
        {
            .word_free_chars = 4,
            .digits_per_token = 1,
            .word = 0.88,
            .word_char = 0.13,
            .word_foreign = 0.41,
            .latin_letter = 0.34,
            .other_letter = 0.04,
            .digit = 1.1,
            .space_alone = 0.94,
            .han = 0.7,
            .kana = 0.43,
            .hangul = 0.68,
            .symbol = 1.02,
            .symbol_char = 0.19,
            .symbol_prefix = 0.91,
            .symbol_wide = 0.95,
            .url_delim = 0.73,
            .emoji = 1.46,
            .emoji_mod = 0.69,
            .newline = 0.98,
            .newline_after_symbol = 0.38,
            .space_run = 1.07,
            .space = 0.06,
        },
};

const ah_tokens_weights_t *ah_tokens_weights(ah_tokens_family_t family)
{
    if ((unsigned)family >= sizeof(weights) / sizeof(weights[0]))
        family = AH_TOKENS_OPENAI;
    return &weights[family];
}

/* Classes of ASCII bytes. */
static const unsigned char ascii_class[128] = {
    /* 0x00-0x1f: controls; TAB is a space; LF, VT, FF, CR are line breaks */
    C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SPACE, C_NL, C_NL, C_NL, C_NL, C_SYM, C_SYM, C_SYM,
    C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM,
    /* 0x20-0x2f: space ! " # $ % & ' ( ) * + , - . / */
    C_SPACE, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM,
    /* 0x30-0x3f: 0-9 : ; < = > ? */
    C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_SYM, C_SYM, C_SYM, C_SYM,
    C_SYM, C_SYM,
    /* 0x40-0x5f: @ A-Z [ \ ] ^ _ */
    C_SYM, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER,
    C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER, C_UPPER,
    C_UPPER, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM,
    /* 0x60-0x7f: ` a-z { | } ~ DEL */
    C_SYM, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER,
    C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER, C_LOWER,
    C_LOWER, C_SYM, C_SYM, C_SYM, C_SYM, C_SYM,
};

/* The class of a non-ASCII code point. Ranges follow the Unicode blocks; a
 * block of mostly letters counts as letters (its few punctuation marks are
 * rare enough not to matter for an estimate). */
static int classify(uint32_t cp)
{
    if (cp >= 0x4E00 && cp <= 0x9FFF)
        return C_HAN;
    if (cp < 0x0300) {
        if (cp == 0x85)
            return C_NL;
        if (cp == 0xA0)
            return C_SPACE;
        if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
            return C_SYMW;
        return C_LATIN; /* Latin-1 letters, Latin Extended-A/B, IPA, modifier letters */
    }
    if (cp < 0x0370)
        return C_MARK;
    if (cp < 0x2000) {
        if (cp >= 0x1100 && cp <= 0x11FF)
            return C_HANGUL;
        if (cp >= 0x1E00 && cp <= 0x1EFF)
            return C_LATIN; /* Latin Extended Additional (Vietnamese, ...) */
        if ((cp >= 0x0483 && cp <= 0x0489) || (cp >= 0x0591 && cp <= 0x05BD) || (cp >= 0x064B && cp <= 0x065F) ||
            (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF))
            return C_MARK;
        return C_LETTER; /* Greek, Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai, Georgian, ... */
    }
    if (cp < 0x2E80) {
        if (cp <= 0x200A || cp == 0x202F || cp == 0x205F)
            return C_SPACE;
        if (cp == 0x200D)
            return C_EMOJI_MOD;
        if (cp == 0x200B || cp == 0x200C || cp == 0x2060)
            return C_MARK;
        if (cp == 0x2028 || cp == 0x2029)
            return C_NL;
        if (cp == 0x20E3)
            return C_EMOJI_MOD;
        if (cp >= 0x20D0 && cp <= 0x20FF)
            return C_MARK;
        if (cp == 0x231A || cp == 0x231B || (cp >= 0x23E9 && cp <= 0x23F3) || (cp >= 0x23F8 && cp <= 0x23FA))
            return C_EMOJI;
        if (cp >= 0x2600 && cp <= 0x27BF)
            return C_EMOJI; /* Miscellaneous Symbols, Dingbats */
        if ((cp >= 0x2B05 && cp <= 0x2B07) || cp == 0x2B1B || cp == 0x2B1C || cp == 0x2B50 || cp == 0x2B55)
            return C_EMOJI;
        if (cp >= 0x2C00 && cp <= 0x2DFF)
            return C_LETTER; /* Glagolitic, Latin Extended-C, Coptic, Georgian, Tifinagh, Ethiopic, Cyrillic Extended-A */
        return C_SYMW; /* punctuation, super/subscripts, currency, letterlike, arrows, math, box drawing, ... */
    }
    if (cp < 0x3400) {
        if (cp == 0x3000)
            return C_SPACE;
        if (cp == 0x3005 || cp == 0x3006 || cp == 0x3007)
            return C_HAN; /* iteration mark, closing mark, ideographic zero */
        if (cp >= 0x3040 && cp <= 0x30FF)
            return C_KANA;
        if (cp >= 0x31F0 && cp <= 0x31FF)
            return C_KANA;
        if (cp >= 0x3130 && cp <= 0x318F)
            return C_HANGUL;
        if ((cp >= 0x2E80 && cp <= 0x2FDF) || (cp >= 0x3100 && cp <= 0x312F) || (cp >= 0x31A0 && cp <= 0x31EF))
            return C_HAN; /* radicals, Bopomofo, strokes */
        return C_SYMW;    /* CJK punctuation, enclosed and compatibility forms */
    }
    if (cp <= 0x4DBF)
        return C_HAN;
    if (cp < 0xAC00) {
        if (cp >= 0xA960 && cp <= 0xA97F)
            return C_HANGUL;
        if (cp >= 0xA000)
            return C_LETTER; /* Yi, Vai, Cyrillic Extended-B, Latin Extended-D, ... */
        return C_SYMW;       /* Yijing hexagrams */
    }
    if (cp <= 0xD7FF)
        return C_HANGUL;
    if (cp < 0xF900)
        return C_SYMW; /* private use */
    if (cp <= 0xFAFF)
        return C_HAN;
    if (cp < 0xFE00)
        return C_LETTER; /* alphabetic and Arabic presentation forms */
    if (cp <= 0xFE0F)
        return cp >= 0xFE0E ? C_EMOJI_MOD : C_MARK;
    if (cp < 0xFF00) {
        if (cp >= 0xFE20 && cp <= 0xFE2F)
            return C_MARK;
        if (cp >= 0xFE70 && cp <= 0xFEFE)
            return C_LETTER;
        if (cp == 0xFEFF)
            return C_MARK; /* byte order mark */
        return C_SYMW;
    }
    if (cp <= 0xFFEF) {
        if (cp >= 0xFF10 && cp <= 0xFF19)
            return C_DIGIT;
        if ((cp >= 0xFF21 && cp <= 0xFF3A) || (cp >= 0xFF41 && cp <= 0xFF5A))
            return C_LETTER;
        if (cp >= 0xFF66 && cp <= 0xFF9F)
            return C_KANA;
        if (cp >= 0xFFA0 && cp <= 0xFFDC)
            return C_HANGUL;
        return C_SYMW; /* fullwidth punctuation */
    }
    if (cp < 0x10000)
        return C_SYMW;
    if (cp < 0x1F000) {
        if (cp >= 0x1D400 && cp <= 0x1D7FF)
            return C_SYMW; /* mathematical alphanumerics */
        return C_LETTER;   /* historic scripts */
    }
    if (cp < 0x1FB00) {
        if (cp >= 0x1F3FB && cp <= 0x1F3FF)
            return C_EMOJI_MOD; /* skin tones */
        if ((cp >= 0x1F700 && cp <= 0x1F77F) || (cp >= 0x1F800 && cp <= 0x1F8FF))
            return C_SYMW; /* alchemical symbols, arrows */
        return C_EMOJI;
    }
    if (cp >= 0x20000 && cp <= 0x3FFFF)
        return C_HAN;
    if (cp >= 0xE0000 && cp <= 0xE007F)
        return C_EMOJI_MOD; /* tags (subdivision flags) */
    if (cp >= 0xE0100 && cp <= 0xE01EF)
        return C_MARK;
    return C_SYMW;
}

static int is_wordish(int cls)
{
    return cls == C_LOWER || cls == C_UPPER || cls == C_LATIN || cls == C_LETTER || cls == C_HAN || cls == C_KANA ||
           cls == C_HANGUL;
}

static int is_letter(int cls)
{
    return cls == C_LOWER || cls == C_UPPER || cls == C_LATIN || cls == C_LETTER;
}

static int is_url_delim(unsigned ch)
{
    switch (ch) {
    case '/': case ':': case '.': case '?': case '=': case '&': case '#': case '%':
    case ';': case '+': case '~': case '-': case '_': case '@':
        return 1;
    default:
        return 0;
    }
}

/* Prices the run in progress; next is the class of the character after it (C_END at the end). */
static void close_run(ah_tokens_counter_t *c, int next)
{
    switch (c->run) {
    case R_WORD: {
        uint64_t free_chars = (uint64_t)c->w->word_free_chars;
        c->n[F_WORD]++;
        if (c->word_len > free_chars)
            c->n[F_WORD_EXTRA] += (int64_t)(c->word_len - free_chars);
        if (c->word_foreign)
            c->n[F_WORD_FOREIGN]++;
        break;
    }
    case R_DIGIT: {
        uint64_t per = c->w->digits_per_token >= 1 ? (uint64_t)c->w->digits_per_token : 1;
        c->n[F_DIGIT] += (int64_t)((c->digit_len + per - 1) / per);
        break;
    }
    case R_SYM:
        if (c->sym_len == 1 && is_wordish(next)) {
            c->n[F_SYM_PREFIX]++;
        } else if (c->sym_url) {
            c->n[F_URL]++;
        } else {
            c->n[F_SYM_RUN]++;
            c->n[F_SYM_EXTRA] += (int64_t)(c->sym_len - 1);
        }
        break;
    case R_WS:
        if (c->ws_nl)
            c->n[c->ws_join ? F_NEWLINE_AFTER_SYM : F_NEWLINE]++;
        if (c->ws_spaces == 0)
            break;
        if (next == C_END) {
            c->n[F_SPACE_RUN]++;
            break;
        }
        /* o200k: all but the last space or tab make one piece; the last joins a following word, and a
         * following punctuation mark if it is a plain space; otherwise it is a token of its own */
        if (c->ws_spaces >= 2)
            c->n[F_SPACE_RUN]++;
        if (!is_wordish(next) && !(c->ws_last_space && next != C_DIGIT))
            c->n[F_SPACE_ALONE]++;
        else if (c->ws_spaces == 1)
            c->n[F_SPACE]++;
        break;
    default:
        break;
    }
    c->run = R_NONE;
}

/* Starts a run of punctuation with mark ch. */
static void start_sym(ah_tokens_counter_t *c, unsigned ch, int after_word, int url)
{
    c->run = R_SYM;
    c->sym_len = 1;
    c->sym_scheme = ch == ':';
    c->sym_after_word = (uint8_t)after_word;
    c->sym_url = (uint8_t)url;
}

/* One code point of class cls; ch is the byte itself for ASCII. */
static void step(ah_tokens_counter_t *c, int cls, unsigned ch)
{
    if (c->word_apos) {
        /* an apostrophe ended the last word: a letter after it makes a contraction ("don't", "keeper's") */
        c->word_apos = 0;
        if (is_letter(cls)) {
            c->n[F_SYM_PREFIX]++;
            c->word_lower = 0; /* the letter continues the word below, whatever its case */
        } else {
            close_run(c, C_SYM);
            start_sym(c, '\'', 1, 0);
        }
    }

    if (c->in_url) {
        if (cls == C_SYM && is_url_delim(ch)) {
            /* in a URL each delimiter is a run of its own */
            close_run(c, C_SYM);
            start_sym(c, ch, 0, 1);
            return;
        }
        if (cls != C_LOWER && cls != C_UPPER && cls != C_DIGIT)
            c->in_url = 0;
    }

    int prev = c->run;
    switch (prev) {
    case R_WORD:
        if (cls == C_LOWER || cls == C_LATIN || cls == C_LETTER || cls == C_MARK || (cls == C_UPPER && !c->word_lower)) {
            c->word_len++;
            c->word_lower = cls == C_LOWER;
            if (cls == C_LATIN)
                c->n[F_LATIN]++, c->word_foreign = 1;
            else if (cls == C_LETTER || cls == C_MARK)
                c->n[F_LETTER]++, c->word_foreign = 1;
            return;
        }
        if (ch == '\'' && !c->in_url) {
            c->word_apos = 1;
            return;
        }
        break;
    case R_DIGIT:
        if (cls == C_DIGIT) {
            c->digit_len++;
            return;
        }
        break;
    case R_SYM:
        if (cls == C_SYM && !c->sym_url) {
            /* sym_scheme counts the marks of "://" seen so far, from the start of the run */
            if (ch == '/' && c->sym_scheme == c->sym_len && c->sym_scheme >= 1 && c->sym_after_word) {
                if (c->sym_scheme == 2) {
                    c->run = R_NONE;
                    c->in_url = 1;
                    c->n[F_URL]++;
                    c->after_sym = 1;
                    return;
                }
                c->sym_scheme = 2;
            }
            c->sym_len++;
            return;
        }
        break;
    case R_WS:
        if (cls == C_SPACE) {
            c->ws_spaces++;
            c->ws_last_space = ch == ' ';
            return;
        }
        if (cls == C_NL) {
            c->ws_nl = 1;
            c->ws_spaces = 0;
            return;
        }
        break;
    default:
        break;
    }

    close_run(c, cls);
    int after_sym = prev == R_SYM || (prev == R_NONE && c->after_sym);
    int after_word = prev == R_WORD || prev == R_DIGIT;
    c->after_sym = 0;
    switch (cls) {
    case C_LOWER:
    case C_UPPER:
    case C_LATIN:
    case C_LETTER:
        c->run = R_WORD;
        c->word_len = 1;
        c->word_lower = cls == C_LOWER;
        c->word_foreign = cls == C_LATIN || cls == C_LETTER;
        if (cls == C_LATIN)
            c->n[F_LATIN]++;
        else if (cls == C_LETTER)
            c->n[F_LETTER]++;
        break;
    case C_DIGIT:
        c->run = R_DIGIT;
        c->digit_len = 1;
        break;
    case C_SYM:
        start_sym(c, ch, after_word, 0);
        break;
    case C_SPACE:
    case C_NL:
        c->run = R_WS;
        c->ws_nl = cls == C_NL;
        c->ws_spaces = cls == C_SPACE;
        c->ws_last_space = ch == ' ';
        c->ws_join = (uint8_t)(cls == C_NL && after_sym);
        break;
    case C_HAN:
        c->n[F_HAN]++;
        break;
    case C_KANA:
        c->n[F_KANA]++;
        break;
    case C_HANGUL:
        c->n[F_HANGUL]++;
        break;
    case C_EMOJI:
        c->n[F_EMOJI]++;
        c->after_sym = 1;
        break;
    case C_EMOJI_MOD:
        c->n[F_EMOJI_MOD]++;
        c->after_sym = 1;
        break;
    default: /* C_SYMW, and C_MARK outside a word */
        c->n[F_SYM_WIDE]++;
        c->after_sym = 1;
        break;
    }
}

void ah_tokens_counter_init(ah_tokens_counter_t *c, ah_tokens_family_t family)
{
    memset(c, 0, sizeof(*c));
    c->w = ah_tokens_weights(family);
}

void ah_tokens_counter_feed(ah_tokens_counter_t *c, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;

    while (p < end) {
        if (c->u8_need == 0) {
            while (p < end && *p < 0x80) {
                if (c->run == R_WORD && !c->word_apos && ascii_class[*p] == C_LOWER) {
                    /* fast path: the rest of a lower-case word */
                    const unsigned char *q = p + 1;
                    while (q < end && *q < 0x80 && ascii_class[*q] == C_LOWER)
                        q++;
                    c->word_len += (uint64_t)(q - p);
                    c->word_lower = 1;
                    p = q;
                    continue;
                }
                step(c, ascii_class[*p], *p);
                p++;
            }
            if (p == end)
                break;
            unsigned b = *p++;
            if (b >= 0xC2 && b <= 0xDF) {
                c->u8_need = 1, c->u8_cp = b & 0x1F, c->u8_min = 0x80;
            } else if (b >= 0xE0 && b <= 0xEF) {
                c->u8_need = 2, c->u8_cp = b & 0x0F, c->u8_min = 0x800;
            } else if (b >= 0xF0 && b <= 0xF4) {
                c->u8_need = 3, c->u8_cp = b & 0x07, c->u8_min = 0x10000;
            } else {
                step(c, C_SYMW, 0); /* a stray continuation byte or an impossible lead byte */
                continue;
            }
            c->u8_have = 1;
        } else {
            unsigned b = *p;
            if ((b & 0xC0) != 0x80) {
                /* a broken sequence: each of its bytes is a symbol, and b is read again as a fresh byte */
                for (unsigned i = 0; i < c->u8_have; i++)
                    step(c, C_SYMW, 0);
                c->u8_need = c->u8_have = 0;
                continue;
            }
            p++;
            c->u8_cp = c->u8_cp << 6 | (b & 0x3F);
            c->u8_have++;
            if (--c->u8_need == 0) {
                uint32_t cp = c->u8_cp;
                if (cp < c->u8_min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                    for (unsigned i = 0; i < c->u8_have; i++)
                        step(c, C_SYMW, 0);
                } else {
                    step(c, classify(cp), 0);
                }
                c->u8_have = 0;
            }
        }
    }
}

/* The weighted sum of the counts, unrounded. */
static double price(const ah_tokens_counter_t *c)
{
    const ah_tokens_weights_t *w = c->w;
    const int64_t *n = c->n;
    const double per[F_COUNT] = {
        [F_WORD] = w->word,
        [F_WORD_EXTRA] = w->word_char,
        [F_WORD_FOREIGN] = w->word_foreign,
        [F_LATIN] = w->latin_letter,
        [F_LETTER] = w->other_letter,
        [F_DIGIT] = w->digit,
        [F_SPACE_ALONE] = w->space_alone,
        [F_HAN] = w->han,
        [F_KANA] = w->kana,
        [F_HANGUL] = w->hangul,
        [F_SYM_RUN] = w->symbol,
        [F_SYM_EXTRA] = w->symbol_char,
        [F_SYM_PREFIX] = w->symbol_prefix,
        [F_SYM_WIDE] = w->symbol_wide,
        [F_URL] = w->url_delim,
        [F_EMOJI] = w->emoji,
        [F_EMOJI_MOD] = w->emoji_mod,
        [F_NEWLINE] = w->newline,
        [F_NEWLINE_AFTER_SYM] = w->newline_after_symbol,
        [F_SPACE_RUN] = w->space_run,
        [F_SPACE] = w->space,
    };
    double t = 0;
    for (int i = 0; i < F_COUNT; i++)
        t += per[i] * (double)n[i];
    return t;
}

/* Finishes a copy of c: an incomplete UTF-8 sequence counts byte by byte, the run in progress is priced. */
static void finish(ah_tokens_counter_t *c)
{
    unsigned have = c->u8_need != 0 ? c->u8_have : 0;
    c->u8_need = c->u8_have = 0;
    for (unsigned i = 0; i < have; i++)
        step(c, C_SYMW, 0);
    if (c->word_apos) {
        c->word_apos = 0;
        close_run(c, C_SYM);
        start_sym(c, '\'', 1, 0);
    }
    close_run(c, C_END);
}

static double raw_estimate(const ah_tokens_weights_t *w, const char *text, size_t len)
{
    ah_tokens_counter_t c;
    memset(&c, 0, sizeof(c));
    c.w = w;
    ah_tokens_counter_feed(&c, text, len);
    finish(&c);
    return price(&c);
}

/* Rounds up (without libm); 0 for nothing. */
static int64_t round_up(double t)
{
    if (!(t > 0))
        return 0;
    if (t >= 9.0e18)
        return INT64_MAX;
    int64_t i = (int64_t)t;
    return i + ((double)i < t);
}

int64_t ah_tokens_counter_result(const ah_tokens_counter_t *c)
{
    ah_tokens_counter_t copy = *c;
    finish(&copy);
    return round_up(price(&copy));
}

int64_t ah_tokens_estimate(ah_tokens_family_t family, const char *text, size_t len)
{
    if (text == NULL || len == 0)
        return 0;
    return round_up(raw_estimate(ah_tokens_weights(family), text, len));
}

/* ---- model names ---- */

/* Case-insensitive search for an ASCII lower-case needle. */
static int contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay != '\0'; hay++) {
        size_t i = 0;
        while (i < n && hay[i] != '\0' && (hay[i] | 0x20) == needle[i])
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

ah_tokens_family_t ah_tokens_family_of(const char *model)
{
    if (model == NULL)
        return AH_TOKENS_OPENAI;
    if (contains(model, "claude"))
        return AH_TOKENS_CLAUDE;
    if (contains(model, "gemini") || contains(model, "gemma"))
        return AH_TOKENS_GEMINI;
    return AH_TOKENS_OPENAI;
}

/* ---- chat bodies ---- */

static double str_raw(const ah_tokens_weights_t *w, const json_t *s)
{
    return json_is_string(s) ? raw_estimate(w, json_string_value(s), json_string_length(s)) : 0;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    ah_tokens_counter_feed(data, buf, size);
    return 0;
}

/* Estimate of a value's compact JSON text, printed straight into a counter. */
static double json_raw(const ah_tokens_weights_t *w, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    ah_tokens_counter_t c;
    memset(&c, 0, sizeof(c));
    c.w = w;
    if (json_dump_callback(v, dump_cb, &c, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
        return 0;
    finish(&c);
    return price(&c);
}

static int is_image_part(const char *type)
{
    return strcmp(type, "image_url") == 0 || strcmp(type, "input_image") == 0 || strcmp(type, "image") == 0;
}

/* One part of an array content: adds its text's unrounded estimate to *t and returns its fixed cost (images). */
static int64_t part_estimate(const ah_tokens_weights_t *w, const json_t *part, double *t)
{
    if (json_is_string(part)) {
        *t += str_raw(w, part);
        return 0;
    }
    if (!json_is_object(part))
        return 0;
    const char *type = json_string_value(json_object_get(part, "type"));
    if (type != NULL && is_image_part(type)) {
        const json_t *img = json_object_get(part, "image_url");
        const char *detail = json_string_value(json_object_get(part, "detail"));
        if (detail == NULL && json_is_object(img))
            detail = json_string_value(json_object_get(img, "detail"));
        return detail != NULL && strcmp(detail, "low") == 0 ? AH_TOKENS_IMAGE_LOW : AH_TOKENS_IMAGE;
    }
    *t += str_raw(w, json_object_get(part, "text"));
    *t += str_raw(w, json_object_get(part, "refusal"));
    return 0;
}

/* A tool call or legacy function call: {"name", "arguments"}; custom tools carry "input". */
static void call_estimate(const ah_tokens_weights_t *w, const json_t *fn, double *t)
{
    if (!json_is_object(fn))
        return;
    *t += str_raw(w, json_object_get(fn, "name"));
    *t += str_raw(w, json_object_get(fn, "arguments"));
    *t += str_raw(w, json_object_get(fn, "input"));
}

int64_t ah_tokens_estimate_chat(ah_tokens_family_t family, const json_t *body)
{
    if (!json_is_object(body))
        return 0;
    const ah_tokens_weights_t *w = ah_tokens_weights(family);
    double t = 0; /* estimated text, rounded up once at the end */
    int64_t fixed = AH_TOKENS_REPLY_PRIMING;
    const json_t *messages = json_object_get(body, "messages");
    size_t i, j;
    const json_t *msg, *v;

    if (json_is_array(messages)) {
        json_array_foreach(messages, i, msg) {
            if (!json_is_object(msg))
                continue;
            fixed += AH_TOKENS_PER_MESSAGE;
            t += str_raw(w, json_object_get(msg, "role"));
            const json_t *name = json_object_get(msg, "name");
            if (json_is_string(name)) {
                t += str_raw(w, name);
                fixed += AH_TOKENS_PER_NAME;
            }
            const json_t *content = json_object_get(msg, "content");
            if (json_is_string(content)) {
                t += str_raw(w, content);
            } else if (json_is_array(content)) {
                json_array_foreach(content, j, v) {
                    fixed += part_estimate(w, v, &t);
                }
            } else if (json_is_object(content)) {
                fixed += part_estimate(w, content, &t);
            }
            const json_t *calls = json_object_get(msg, "tool_calls");
            if (json_is_array(calls)) {
                json_array_foreach(calls, j, v) {
                    if (!json_is_object(v))
                        continue;
                    fixed += AH_TOKENS_PER_TOOL_CALL;
                    const json_t *fn = json_object_get(v, "function");
                    call_estimate(w, fn != NULL ? fn : json_object_get(v, "custom"), &t);
                }
            }
            const json_t *fcall = json_object_get(msg, "function_call");
            if (json_is_object(fcall)) {
                fixed += AH_TOKENS_PER_TOOL_CALL;
                call_estimate(w, fcall, &t);
            }
        }
    }
    t += json_raw(w, json_object_get(body, "tools"));
    t += json_raw(w, json_object_get(body, "functions"));
    return fixed + round_up(t);
}

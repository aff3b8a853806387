/*
 * money.h: prices and costs in integer micro-units.
 *
 * Money is an integer count of micro-units (1 unit = 1,000,000). A price is
 * given per million tokens in units (2.5 means 2.5 units per million tokens)
 * and kept as integer micro-units per million tokens, rounded to the nearest
 * (2.01 -> 2,010,000). The cost of a request is rounded up to a whole
 * micro-unit. Every amount stays below 2^53 so that Redis's Lua (doubles)
 * keeps it exact.
 */
#ifndef AIHUB_MONEY_H
#define AIHUB_MONEY_H

#include <stdint.h>

/** the largest amount AiHub handles: 2^53 - 1 micro-units */
#define AH_MONEY_MAX ((int64_t)9007199254740991LL)

/** a model's prices, in micro-units per million tokens */
typedef struct st_ah_price_t {
    int64_t input, output, cached_input;
} ah_price_t;

/** converts a price in units per million tokens to micro-units per million; -1 when negative, not finite or too large */
int64_t ah_money_price_from_units(double units);
/**
 * ceil((uncached_prompt * input + cached_prompt * cached_input + completion * output) / 1e6),
 * clamped to AH_MONEY_MAX; negative token counts count as 0.
 */
int64_t ah_money_cost(const ah_price_t *p, int64_t uncached_prompt, int64_t cached_prompt, int64_t completion);

#endif

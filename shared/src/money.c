/*
 * money.c: integer price conversion and cost arithmetic (see money.h).
 * Products are computed in 128 bits so that no token count times price can
 * overflow before the division.
 */
#include <math.h>
#include "aihub/money.h"

int64_t ah_money_price_from_units(double units)
{
    if (!isfinite(units) || units < 0 || units * 1e6 > (double)AH_MONEY_MAX)
        return -1;
    return (int64_t)llround(units * 1e6);
}

int64_t ah_money_cost(const ah_price_t *p, int64_t uncached_prompt, int64_t cached_prompt, int64_t completion)
{
    unsigned __int128 sum = 0;
    if (uncached_prompt > 0)
        sum += (unsigned __int128)uncached_prompt * (uint64_t)p->input;
    if (cached_prompt > 0)
        sum += (unsigned __int128)cached_prompt * (uint64_t)p->cached_input;
    if (completion > 0)
        sum += (unsigned __int128)completion * (uint64_t)p->output;
    unsigned __int128 cost = (sum + 999999) / 1000000;
    return cost > (unsigned __int128)AH_MONEY_MAX ? AH_MONEY_MAX : (int64_t)cost;
}

/* The Lua scripts compiled into the binary (generated from lua-scripts/). */
#ifndef AH_REDIS_SCRIPTS_EMBEDDED_H
#define AH_REDIS_SCRIPTS_EMBEDDED_H
#include <stddef.h>

typedef struct st_ah_embedded_script_t {
    const char *name; /**< file name without .lua; NULL ends the table */
    const char *body; /**< the lib files followed by the script */
    size_t len;
} ah_embedded_script_t;

extern const ah_embedded_script_t ah_embedded_scripts[];

#endif

/*
 * Keeps the process's configuration snapshot current: loads it with the
 * config_read script when Redis becomes ready, when a change notice arrives
 * on the ah:cfg:changed channel, and when the periodic version check finds a
 * newer version (the safety net for lost pub/sub messages). Runs on worker 0.
 */
#ifndef AH_REDIS_CONFIG_LOADER_H
#define AH_REDIS_CONFIG_LOADER_H

#include "node.h"

/** starts the loader on w (worker 0): subscriber connection, version poll, startup checks */
void ah_config_loader_start(ah_worker_t *w);
/** stops the poll and closes the subscriber */
void ah_config_loader_stop(ah_worker_t *w);
/** 1 once a snapshot has been loaded from Redis at least once */
int ah_config_loaded(void);
/** the main connection of worker 0 became ready (hook from the worker) */
void ah_config_loader_on_ready(ah_worker_t *w);

#endif

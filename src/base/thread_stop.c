/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thread_stop.c - ending a worker thread that waits on a condition
 * variable for its stop flag.
 */
#include "base/thread_stop.h"

void mdx_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cond, int *stop, pthread_t thread)
{
    pthread_mutex_lock(mu);
    *stop = 1;
    pthread_cond_signal(cond);
    pthread_mutex_unlock(mu);
    pthread_join(thread, NULL);
}

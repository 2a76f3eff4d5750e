/* SPDX-License-Identifier: Apache-2.0 */
/*
 * thread_stop.h - ending a worker thread that sleeps on a condition
 * variable until its stop flag is set (the EMF metrics writer, the RUL
 * endpoint client, the API connection guard's deadline thread).
 */
#ifndef MODAX_BASE_THREAD_STOP_H
#define MODAX_BASE_THREAD_STOP_H

#include <pthread.h>

/*
 * Sets *stop to 1 under 'mu', signals 'cond' and joins 'thread': the
 * worker must check *stop under 'mu' whenever it wakes. Returns once the
 * thread has ended.
 */
void mdx_thread_stop(pthread_mutex_t *mu, pthread_cond_t *cond, int *stop, pthread_t thread);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list.c - the intrusive doubly-linked list; see list.h.
 */
#include "base/list.h"

/* Links 'n' between 'prev' and 'next' (neighbours in 'l'; NULL at an end). */
static void link_between(struct mdx_list *l, struct mdx_link *prev, struct mdx_link *n,
                         struct mdx_link *next)
{
    n->prev = prev;
    n->next = next;
    if (prev != NULL) {
        prev->next = n;
    } else {
        l->head = n;
    }
    if (next != NULL) {
        next->prev = n;
    } else {
        l->tail = n;
    }
}

void mdx_list_append(struct mdx_list *l, struct mdx_link *n)
{
    link_between(l, l->tail, n, NULL);
}

void mdx_list_push_front(struct mdx_list *l, struct mdx_link *n)
{
    link_between(l, NULL, n, l->head);
}

void mdx_list_remove(struct mdx_list *l, struct mdx_link *n)
{
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        l->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    } else {
        l->tail = n->prev;
    }
    n->prev = n->next = NULL;
}

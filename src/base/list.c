/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list.c - the intrusive doubly-linked list; see list.h.
 */
#include "base/list.h"

void mdx_list_append(struct mdx_list *l, struct mdx_link *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = n;
    } else {
        l->head = n;
    }
    l->tail = n;
}

void mdx_list_push_front(struct mdx_list *l, struct mdx_link *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head != NULL) {
        l->head->prev = n;
    } else {
        l->tail = n;
    }
    l->head = n;
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

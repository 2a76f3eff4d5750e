/* SPDX-License-Identifier: Apache-2.0 */
/*
 * list.h - the one intrusive doubly-linked list: an entry embeds struct
 * mdx_link and MDX_LINK_ENTRY turns a link back into its entry. The list
 * only links; the entries' owner allocates and frees them. Used where an
 * order must be kept beside a hash index (alert queues, changed alerts)
 * and for the live stream's clients.
 */
#ifndef MODAX_BASE_LIST_H
#define MODAX_BASE_LIST_H

#include <stddef.h>

struct mdx_link {
    struct mdx_link *prev, *next;
};

struct mdx_list {
    struct mdx_link *head, *tail; /* both NULL when empty */
};

/* The entry of type 'type' whose member 'member' is the link 'l' (NULL stays NULL). */
#define MDX_LINK_ENTRY(l, type, member)                                                            \
    ((l) != NULL ? (type *)(void *)((char *)(l) - offsetof(type, member)) : (type *)NULL)

/* Links 'n' last. */
void mdx_list_append(struct mdx_list *l, struct mdx_link *n);
/* Links 'n' first. */
void mdx_list_push_front(struct mdx_list *l, struct mdx_link *n);
/* Unlinks 'n', which is in 'l'; its links are NULL after. */
void mdx_list_remove(struct mdx_list *l, struct mdx_link *n);

#endif

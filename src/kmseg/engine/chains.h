/* Chains of a permutation: its cycles cut at marked elements, in order. */
#ifndef KMSEG_CHAINS_H
#define KMSEG_CHAINS_H

#include <stdint.h>

/* next[n] is a permutation of 0 .. n - 1 (every element the successor of
 * exactly one). The elements with head[i] set start a chain, which runs
 * along next to the element before the next head. A cycle with no head
 * gets one first: its element of smallest key (head[] is updated).
 * Chains are numbered in the order of their heads' indices; chain[i] is
 * element i's chain, order[] the elements chain after chain, each in walking
 * order, chain c being order[bounds[c]] .. order[bounds[c + 1] - 1]
 * (bounds has room for n + 1 entries).
 * Returns the number of chains, or -1 when memory runs out. */
int64_t chains_walk(const int64_t *next, int64_t n, uint8_t *head, const int64_t *key,
                    int64_t *chain, int64_t *order, int64_t *bounds);

#endif

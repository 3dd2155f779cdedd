/* Walking the chains of a permutation: O(n), every element visited a few
 * times (the NumPy version ranked them by pointer jumping, O(n log n)). */
#include "chains.h"

#include <stdlib.h>

int64_t chains_walk(const int64_t *next, int64_t n, uint8_t *head, const int64_t *key,
                    int64_t *chain, int64_t *order, int64_t *bounds) {
    uint8_t *seen = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!seen) return -1;
    for (int64_t i = 0; i < n; i++) {
        if (!head[i]) continue;
        int64_t j = i;
        do { seen[j] = 1; j = next[j]; } while (!head[j]);
    }
    for (int64_t i = 0; i < n; i++) { /* what is left lies on cycles with no head */
        if (seen[i]) continue;
        int64_t low = i, j = i;
        do {
            seen[j] = 1;
            if (key[j] < key[low]) low = j;
            j = next[j];
        } while (j != i);
        head[low] = 1;
    }
    free(seen);
    int64_t c = 0, t = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!head[i]) continue;
        bounds[c] = t;
        int64_t j = i;
        do { chain[j] = c; order[t++] = j; j = next[j]; } while (!head[j]);
        c++;
    }
    bounds[c] = t;
    return c;
}

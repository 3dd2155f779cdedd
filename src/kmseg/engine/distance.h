/* Exact Euclidean distance from the points of a region map to the edges
 * of their regions, and every region's farthest point (its pole). */
#ifndef KMSEG_DISTANCE_H
#define KMSEG_DISTANCE_H

#include <stdint.h>

/* Region map: regions[H * W] (row-major), ids 0 .. n - 1, H, W >= 2. The
 * points searched are the half-pixel lattice inside the map's outer
 * pixels: point (Y, X), 0 <= Y < 2H - 3, 0 <= X < 2W - 3, is at
 * (1 + X / 2, 1 + Y / 2) in pixel units (pixel (y, x) is the square
 * [x, x + 1] x [y, y + 1]), numbered Y * (2W - 3) + X: pixel corners,
 * the middles of pixel edges and pixel centres. A point on an edge between
 * two regions is at distance 0; any other lies inside one region, and the
 * distance from it to the nearest point on an edge is its distance to the
 * region's edges (the other regions' pixels, closed squares), since the
 * nearest point of a square to a point of the lattice is on the lattice.
 *
 * For every region: best_d2[r], the largest squared distance, in half
 * pixels, of its points, and best_point[r] the first of its points at that
 * distance in raster order; 0 and -1 for a region with no point inside.
 * Exact when every row and column of points holds an edge point (true when
 * the map is framed by a region of its own).
 * Returns 0, or -1 when memory runs out. */
int distance_poles(const int64_t *regions, int64_t H, int64_t W, int64_t n,
                   int64_t *best_d2, int64_t *best_point);

#endif

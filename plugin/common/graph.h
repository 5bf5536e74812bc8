/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * graph.h: an undirected, weighted communication graph over domains
 *
 * Vertices are domain names (any non-empty UTF-8 string: spaces,
 * quotes, ';' and newlines are all fine) and get dense indices
 * 0..n-1 in the order they were first seen, so that the ordering
 * algorithms can work on arrays.  An edge says "these two domains talk";
 * its weight is the traffic between them, in whatever unit the caller
 * measures (bytes/s, packets/s).  Adding the same pair again adds the
 * weights, so observed flows can be fed in as they come.
 *
 * The graph lives in libvl-common: no libvirt, no I/O, no logging.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Level of a vertex that a breadth-first search did not reach. */
#define VL_GRAPH_UNREACHED G_MAXUINT

typedef struct _VlGraph VlGraph;

typedef struct {
    guint vertex;   /* index of the neighbour */
    double weight;  /* summed traffic weight of the pair, > 0 */
} VlGraphNeighbor;

VlGraph *vl_graph_new(void);
void vl_graph_free(VlGraph *graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VlGraph, vl_graph_free)

/**
 * vl_graph_add_vertex:
 * @graph: the graph
 * @name: the domain name (copied)
 * @index: (out) (optional): the vertex index
 * @error: (out) (optional): set when @name is empty or not UTF-8
 *
 * Adds @name as an isolated vertex unless it is already there; either
 * way *@index receives its index.  Domains that move but were never
 * seen talking are added this way.
 */
gboolean vl_graph_add_vertex(VlGraph *graph, const char *name, guint *index,
                             GError **error);

/**
 * vl_graph_add_edge:
 * @graph: the graph
 * @a: one domain (copied, added if new)
 * @b: the other domain (copied, added if new)
 * @weight: traffic between them: positive and finite
 * @error: (out) (optional): set on a bad name, a self-loop, a weight
 *   that is not positive and finite, or a sum that overflows
 *
 * Adds @weight to the edge {@a, @b}, creating the edge and the
 * vertices as needed.  On failure the graph is left unchanged.
 */
gboolean vl_graph_add_edge(VlGraph *graph, const char *a, const char *b,
                           double weight, GError **error);

/**
 * vl_graph_new_induced:
 * @graph: the source graph
 * @names: NULL-terminated list of distinct vertex names of @graph
 * @error: (out) (optional): set on an unknown or repeated name
 *
 * Returns the subgraph induced by @names, whose vertex i is @names[i]
 * and which keeps every edge of @graph between two of them.
 */
VlGraph *vl_graph_new_induced(const VlGraph *graph, const char *const *names,
                              GError **error);

guint vl_graph_n_vertices(const VlGraph *graph);
guint vl_graph_n_edges(const VlGraph *graph);

/* The name of vertex @v, owned by @graph. */
const char *vl_graph_vertex_name(const VlGraph *graph, guint v);

/* Looks @name up; returns FALSE (and leaves *@index alone) if absent. */
gboolean vl_graph_lookup(const VlGraph *graph, const char *name, guint *index);

/**
 * vl_graph_neighbors:
 * @graph: the graph
 * @v: a vertex index
 * @n_neighbors: (out): the length of the returned array
 *
 * Returns the adjacency list of @v, owned by @graph and valid until
 * the next vl_graph_add_*() call.  Neighbours appear in the order
 * their first edge was added.
 */
const VlGraphNeighbor *vl_graph_neighbors(const VlGraph *graph, guint v,
                                          guint *n_neighbors);

/* Number of distinct neighbours of @v. */
guint vl_graph_degree(const VlGraph *graph, guint v);

/* Sum of the weights of the edges at @v. */
double vl_graph_weighted_degree(const VlGraph *graph, guint v);

/* Weight of the edge {@u, @v}, 0 if they do not talk. */
double vl_graph_edge_weight(const VlGraph *graph, guint u, guint v);

/**
 * vl_graph_edge:
 * @graph: the graph
 * @e: edge index, 0..vl_graph_n_edges()-1, in the order edges were created
 * @u: (out) (optional): the endpoint with the smaller index
 * @v: (out) (optional): the endpoint with the larger index
 *
 * Returns the weight of edge @e.
 */
double vl_graph_edge(const VlGraph *graph, guint e, guint *u, guint *v);

/**
 * vl_graph_components:
 * @graph: the graph
 * @component: (out caller-allocates) (array): vl_graph_n_vertices() entries
 *
 * Labels each vertex with its connected component.  Components are
 * numbered 0, 1, ... in the order of their smallest vertex index.
 * Returns the number of components.  O(n + m).
 */
guint vl_graph_components(const VlGraph *graph, guint *component);

/**
 * vl_graph_bfs_levels:
 * @graph: the graph
 * @root: where the search starts
 * @level: (out caller-allocates) (array): vl_graph_n_vertices() entries
 *
 * Fills @level with the hop distance of every vertex from @root, or
 * VL_GRAPH_UNREACHED for vertices in other components.  Returns the
 * eccentricity of @root (the largest finite level).  O(n + m).
 */
guint vl_graph_bfs_levels(const VlGraph *graph, guint root, guint *level);

G_END_DECLS

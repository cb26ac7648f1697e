# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
# distutils: language = c++
"""The per-read work of `metcnv coverage`, compiled: one pass over a contig's reads, in C
over htslib's records, filling the bins and the SNP sites as the reads arrive.

The rules are those of metcnv.coverage (read filter, one fragment at its midpoint, aligned
span per bin) and metcnv.alleles (the base at each SNP site, a fragment counted once);
their docstrings are the specification. Memory does not grow with the reads: a read
updates the bins and sites it touches and is gone; only the names of the reads already
counted at the SNP sites the current read can still reach are kept (to count a fragment
once when both mates cover a site).

Reads come from pysam's own iterator over an indexed BAM/CRAM (`AlignmentFile.fetch`):
the loop makes the htslib call of its C-level `cnext`, which fills one bam1_t and makes no
Python object, so opening, decoding threads, CRAM references and index handling stay
pysam's. The loop runs without the GIL, so threads count other contigs in parallel.
The module is compiled against pysam's Cython declarations, so it must run with the
pysam it was built with: PYSAM_VERSION, checked by metcnv.coverage on import.
"""

from cython.operator cimport dereference as deref
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libcpp.map cimport map as cpp_map
from libcpp.string cimport string
from libcpp.unordered_set cimport unordered_set
from pysam.libcalignmentfile cimport IteratorRowRegion
from pysam.libchtslib cimport (
    BGZF,
    bam1_t,
    bam_aux2f,
    bam_aux2i,
    bam_aux_get,
    bam_cigar_op,
    bam_cigar_oplen,
    bam_endpos,
    bam_get_cigar,
    bam_get_qname,
    bam_get_qual,
    bam_get_seq,
    bam_seqi,
    hts_get_bgzfp,
    hts_itr_next,
    hts_itr_t,
    htsFile,
    seq_nt16_str,
)

PYSAM_VERSION = PYSAM_BUILD_VERSION.decode()  # set by setup.py: the pysam compiled against

cdef extern from *:
    const char *PYSAM_BUILD_VERSION

cdef enum:
    PAIRED = 0x1
    PROPER = 0x2
    MATE_UNMAPPED = 0x8
    READ2 = 0x80
    MATCH = 0
    INSERTION = 1
    DELETION = 2
    SKIP = 3
    SOFT_CLIP = 4
    EQUAL = 7
    DIFF = 8
    NO_QUALITIES = 0xFF  # QUAL '*': the first quality byte is 0xFF


cdef Py_ssize_t lower_bound(const int64_t[::1] values, int64_t x) noexcept nogil:
    """First index whose value is >= x (bisect_left)."""
    cdef Py_ssize_t low = 0, high = values.shape[0], middle
    while low < high:
        middle = (low + high) // 2
        if values[middle] < x:
            low = middle + 1
        else:
            high = middle
    return low


cdef Py_ssize_t upper_bound(const int64_t[::1] values, int64_t x) noexcept nogil:
    """First index whose value is > x (bisect_right)."""
    cdef Py_ssize_t low = 0, high = values.shape[0], middle
    while low < high:
        middle = (low + high) // 2
        if values[middle] <= x:
            low = middle + 1
        else:
            high = middle
    return low


cdef bint mate_fails_mapq(bam1_t *b, int min_mapq) noexcept nogil:
    """Whether the read's MQ tag (its mate's MAPQ) is below `min_mapq`; False without one
    (or with a non-numeric one)."""
    cdef uint8_t *tag = bam_aux_get(b, b"MQ")
    if tag == NULL:
        return False
    if tag[0] in b"cCsSiI":
        return bam_aux2i(tag) < min_mapq
    if tag[0] in b"fd":
        return bam_aux2f(tag) < min_mapq
    return False


cdef class _Sites:
    """One contig's SNP sites (0-based positions, sorted; ref and alt as ASCII codes), their
    ref/alt/other counts, and the names of the reads counted at sites still reachable."""

    cdef const int64_t[::1] positions
    cdef const uint8_t[::1] ref
    cdef const uint8_t[::1] alt
    cdef int64_t[:, ::1] counts
    cdef int min_baseq
    cdef int64_t without_bases
    cdef cpp_map[Py_ssize_t, unordered_set[string]] seen  # site -> names counted there

    def __init__(self, positions, ref, alt, counts, int min_baseq):
        self.positions, self.ref, self.alt, self.counts = positions, ref, alt, counts
        self.min_baseq = min_baseq

    cdef void count(self, bam1_t *b, int64_t start, int64_t end) noexcept nogil:
        """Count the read's bases at the sites in [start, end) (metcnv.alleles' rules)."""
        cdef Py_ssize_t n = self.positions.shape[0]
        cdef Py_ssize_t site = lower_bound(self.positions, start)
        if site == n or self.positions[site] >= end:
            return  # most reads cover no site
        if b.core.l_qseq == 0:
            self.without_bases += 1
            return
        # reads are sorted by start: no later read reaches a site before this one's first
        cdef cpp_map[Py_ssize_t, unordered_set[string]].iterator done = self.seen.begin()
        while done != self.seen.end() and deref(done).first < site:
            done = self.seen.erase(done)
        cdef uint8_t *seq = bam_get_seq(b)
        cdef uint8_t *qual = bam_get_qual(b)
        cdef uint32_t *cigar = bam_get_cigar(b)
        cdef bint has_qual = qual[0] != NO_QUALITIES
        cdef string name = string(bam_get_qname(b))
        cdef int64_t ref_pos = start, query_pos = 0, length, offset
        cdef uint32_t k
        cdef int op
        cdef char base
        cdef unordered_set[string] *names
        for k in range(b.core.n_cigar):
            op, length = bam_cigar_op(cigar[k]), bam_cigar_oplen(cigar[k])
            if op == MATCH or op == EQUAL or op == DIFF:
                while site < n and self.positions[site] < ref_pos + length:
                    # htslib refuses a record whose CIGAR and SEQ lengths differ: in range
                    offset = query_pos + self.positions[site] - ref_pos
                    names = &self.seen[site]
                    if names.count(name) == 0 and (not has_qual or qual[offset] >= self.min_baseq):
                        names.insert(name)  # the other mate is not counted again here
                        base = seq_nt16_str[bam_seqi(seq, offset)]
                        if base == self.ref[site]:
                            self.counts[site, 0] += 1
                        elif base == self.alt[site]:
                            self.counts[site, 1] += 1
                        else:
                            self.counts[site, 2] += 1
                    site += 1
                ref_pos += length
                query_pos += length
            elif op == DELETION or op == SKIP:
                while site < n and self.positions[site] < ref_pos + length:
                    site += 1  # no base at a deleted or skipped site
                ref_pos += length
            elif op == INSERTION or op == SOFT_CLIP:
                query_pos += length
            if site == n or self.positions[site] >= end:
                return


def count_contig(
    IteratorRowRegion reads,
    const int64_t[::1] bin_starts,
    const int64_t[::1] bin_ends,
    int64_t[::1] counts,
    int64_t[::1] depth_sums,
    int min_mapq,
    int exclude_flags,
    sites=None,
):
    """Count one contig's reads (`AlignmentFile.fetch(contig)`) into its sorted,
    non-overlapping bins: fragments at their midpoint into `counts`, aligned bases into
    `depth_sums`; with `sites` (metcnv.alleles.ContigSites) the alleles at its SNPs too.

    Returns the number of fragments counted, in bins or not, and sets
    `sites.reads_without_bases`.
    """
    cdef _Sites snps = None
    if sites is not None:
        snps = _Sites(sites.positions, sites.ref_codes, sites.alt_codes, sites.counts, sites.min_baseq)
    cdef bint with_sites = snps is not None
    cdef Py_ssize_t n_bins = bin_starts.shape[0], j
    cdef int64_t fragments = 0, start, end, mid, mate_start, insert
    cdef int ret, flag
    # reads.cnext()'s htslib call, made here without the GIL (module docstring)
    cdef htsFile *htsfile = reads.htsfile
    cdef BGZF *bgzf = hts_get_bgzfp(htsfile)
    cdef hts_itr_t *iterator = reads.iter
    cdef bam1_t *b = reads.b
    with nogil:
        while True:
            ret = hts_itr_next(bgzf, iterator, b, htsfile)
            if ret < 0:
                break
            flag = b.core.flag
            if flag & exclude_flags or b.core.qual < min_mapq:
                continue
            start = b.core.pos
            end = bam_endpos(b)
            j = upper_bound(bin_ends, start)  # the first bin ending after the read's start
            while j < n_bins and bin_starts[j] < end:
                depth_sums[j] += min(end, bin_ends[j]) - max(start, bin_starts[j])
                j += 1
            if with_sites:
                snps.count(b, start, end)
            if flag & PAIRED and not flag & MATE_UNMAPPED:
                if flag & READ2 and not mate_fails_mapq(b, min_mapq):
                    continue  # counted through read 1, unless its MQ tag says read 1 fails MAPQ
                mate_start, insert = b.core.mpos, b.core.isize
                if flag & PROPER and insert != 0:
                    mid = min(start, mate_start) + (insert if insert > 0 else -insert) // 2
                else:
                    mid = (start + end) // 2
            else:
                mid = (start + end) // 2
            fragments += 1
            j = upper_bound(bin_starts, mid) - 1  # the last bin starting at or before mid
            if j >= 0 and mid < bin_ends[j]:
                counts[j] += 1
    if ret < -1:
        raise OSError("truncated file" if ret == -2 else f"error {ret} while reading file")
    if snps is not None:
        sites.reads_without_bases = snps.without_bases
    return fragments

"""Defaults, each with the reason for its value; some of them are CLI options too.

The command line sets the bin sizes, MIN_MAPQ, MIN_BASEQ, PLOIDY and every field of
metcnv.model.CallSettings (FOCAL_MAX_SIZE, AMP_MIN_CN, HIGH_LEVEL_CN, MIN_Z, FISH_*,
SEGMENT_ALPHA, MIN_GENE_BINS, CHIP_GENES); the others, among them the QC thresholds, are
not options.
"""

# Bins ------------------------------------------------------------------------------
TARGET_BIN_SIZE = 300  # split longer targets; CNVkit's average target bin is 267 bp
OFFTARGET_BIN_SIZE = 150_000  # CNVkit's default antitarget size: ~20-50 reads per bin at 1x
OFFTARGET_MIN_FRACTION = 0.25  # drop off-target gaps shorter than this fraction of a bin
TARGET_PADDING = 1_000  # keep off-target bins clear of capture spill-over around targets
MIN_TARGET_BIN_SIZE = 20  # shorter bins hold a fragment midpoint by chance, not by depth
MIN_OFFTARGET_BIN_SIZE = 10_000  # smaller tiles the genome into over 300,000 bins (memory)

# Read filters -------------------------------------------------------------------------
EXCLUDE_FLAGS = 0x704  # unmapped, secondary, QC-fail, duplicate (samtools/mosdepth default)
MIN_MAPQ = 20  # drop multi-mapped reads; GATK CollectReadCounts uses 30, CNVkit 0
MIN_BASEQ = 20  # allele counts skip bases below Q20 (1% error); GATK CollectAllelicCounts too
MAX_MAPQ = 255  # the SAM format's range of MAPQ (255: unavailable)
MAX_BASEQ = 93  # the SAM format's range of base qualities (Phred, '~')
MAX_THREADS = 256  # threads beyond the cores only cost memory

# Panel of normals ------------------------------------------------------------------------
MIN_NORMALS = 2  # the fewest normals a PoN accepts; spreads from 2 are crude
WARN_NORMALS = 5  # below this, warn that bin spreads are poorly estimated
MIN_NORMALS_FOR_DENOISING = 5  # principal components need several normals to mean anything
MAX_COMPONENTS = 20  # GATK's default number of eigensamples
# held-out residuals of the normals: leave-one-out refits up to this many normals, then
# this many folds (each normal against a fit without its fold), so that building a panel
# of normals stays linear in their number (200 normals: 50 refits, not 200)
LOO_MAX_NORMALS = 50
MIN_RELATIVE_COVERAGE = -5.0  # log2 of a bin's median coverage vs the group's; lower = masked
MAX_BIN_SPREAD = 1.0  # robust SD of a bin's log2 across normals; higher = masked
PSEUDO_COUNT = 0.5  # keeps log2 finite for empty bins
# Outlier normals (metcnv.outliers), each judged against the others ---------------------------
OUTLIER_MIN_NORMALS = 3  # with 2, either one's event is the other's: no telling which is odd
OUTLIER_EVENT_MIN_LOG2 = 0.4  # a one-copy gain in over half the cells (log2 3/2 = 0.58 in all)
OUTLIER_EVENT_MIN_Z = 10.0  # ... that stands this many SE out: no germline CNV of a few bins
OUTLIER_NOISE_FACTOR = 2.0  # MAPD more than twice the other normals': a failed library
OUTLIER_SEGMENT_ALPHA = 1e-6  # CBS only proposes the events; the two limits above decide
# germline CNVs (HLA-DRB, GSTM1, UGT2B17, 15q11.2 BP1-BP2, up to 22q11.2's 3 Mb: deletions
# of any depth, duplications) do not reach 4 copies; a normal showing one is no outlier
GERMLINE_CNV_MAX_SIZE = 3_000_000
GERMLINE_CNV_MAX_LOG2 = 1.0

# SNPs in the panel of normals (alt fraction = alt / (ref + alt) reads at a site) ------------
SNP_MIN_DEPTH = 20  # ref + alt reads for a normal to cover a site; at 20 a het's SD is 0.11
SNP_HET_MIN, SNP_HET_MAX = 0.2, 0.8  # a covered normal in [0.2, 0.8] is heterozygous
SNP_HOM_MAX_ERROR = 0.02  # <= 2% (or >= 98%) is homozygous: sequencing errors, not alleles
SNP_MIN_COVERED_FRACTION = 0.5  # covered in fewer normals (target edges, off-target): dropped
SNP_MAX_HET_BIAS = 0.1  # mean het alt fraction outside 0.5 +- 0.1: reference bias too strong
# to correct (PureCN's max.mapping.bias 0.8, as alt fraction 0.4), or a paralog
SNP_MIN_HET_NORMALS_FOR_BIAS = 2  # one het normal at 20x cannot tell a 0.4 from a 0.5
# a site where over a quarter of the covered normals, and at least two, are neither hom nor
# het is no clean germline SNP (paralog, error hotspot); one contaminated normal is not enough
SNP_MAX_ARTEFACT_FRACTION = 0.25
SNP_MIN_ARTEFACT_NORMALS = 2

# GC correction ----------------------------------------------------------------------------
GC_WINDOW_FRACTION = 0.1  # rolling-median window over GC-sorted bins (CNVkit uses 10%)

# Segmentation ----------------------------------------------------------------------------------
SEGMENT_ALPHA = 0.01  # DNAcopy's default significance for a change point
SEGMENT_MIN_BINS = 2

# Calling -------------------------------------------------------------------------------------
PLOIDY = 2.0
MAX_PLOIDY = 8.0  # tumor ploidies above octoploid are not seen; PureCN searches 1.4-6
FOCAL_MAX_SIZE = 3_000_000  # PureCN: a focal amplicon is shorter than 3 Mb
AMP_MIN_CN = 6.0  # tumor copies for "amplification" (published NGS cut-off GCN >= 6)
HIGH_LEVEL_CN = 10.0  # NCCN: NGS copy number above 10 is high-level
MIN_Z = 3.0  # a gain must stand this many standard errors above its reference level
FISH_LOW = 1.8  # MET/CEP7 ratio categories (FISH): low 1.8-2.2,
FISH_INTERMEDIATE = 2.2  # intermediate >2.2-<5,
FISH_HIGH = 5.0  # high >= 5
DETECTION_POWER_Z = 1.645  # limit of detection: detected with 95% power at MIN_Z
MIN_GENE_BINS = 3  # fewer usable bins over MET than this: inconclusive
# Genes whose somatic mutations in plasma (and in effusions, which hold blood cells) come
# mostly from clonal haematopoiesis, not the tumor: the CHIP genes most often mutated in
# blood cells (DNMT3A, TET2, ASXL1, JAK2 first), none a driver of gastric or lung cancer.
# TP53, ATM, CHEK2 and KRAS are CHIP genes too, but also the tumor's own: kept.
CHIP_GENES = ("DNMT3A", "TET2", "ASXL1", "PPM1D", "JAK2", "SF3B1", "SRSF2")
CHIP_SAMPLE_TYPES = ("blood", "effusion")  # sample types whose DNA is partly blood cells'

# QC ------------------------------------------------------------------------------------------
QC_MIN_MET_DEPTH = {"warn": 100.0, "fail": 20.0}  # median read depth over MET targets
QC_MAX_MAPD = {"warn": 0.3, "fail": 0.6}  # noise of target log2 ratios
MIN_NOISE_WINDOWS = 20  # gene-sized windows needed to measure a noisy sample's own noise
QC_MIN_RELATIVE_CORRELATION = {"warn": 0.8, "fail": 0.6}  # profile vs PoN, / normals' own
QC_MAX_MASKED_FRACTION = {"warn": 0.2, "fail": 0.5}
QC_MIN_ON_TARGET = {"warn": 0.2, "fail": 0.05}

# PureCN.R (PureCN's tumor-only command line, from the package's extdata), run unchanged
# except for one function: PureCN <= 2.9 fails on panels of fewer than 2,000 intervals in
# .getAverageWeightPV ("cannot take a sample larger than the population when
# 'replace = FALSE'", lima1/PureCN issue 363), because it draws 2,000 intervals without
# replacement. The benchmark's panels have 400-1,300 targets, so this draws with
# replacement when there are fewer; with 2,000 or more it is PureCN's own code.
#
#     Rscript purecn.R [PureCN.R's options]

suppressPackageStartupMessages(library(PureCN))

getAverageWeightPV <- function(seg, weights, perm = 2000) {
    num_marks <- sort(unique(seg$num.mark))
    .do_permutation <- function(i, l) {
        if (l > 25) return(0)
        i <- if (length(weights) < i + l - 1) length(weights) - l + 1 else i
        mean(weights[seq(i, i + l - 1)], na.rm = TRUE)
    }
    permutations <- lapply(num_marks, function(l)
        sapply(sample(length(weights), perm, replace = length(weights) < perm),
            .do_permutation, l))
    names(permutations) <- num_marks
    sapply(seq(nrow(seg)), function(i)
        sum(seg$seg.weight[i] > permutations[[as.character(seg$num.mark[i])]]) / perm)
}
environment(getAverageWeightPV) <- asNamespace("PureCN")
assignInNamespace(".getAverageWeightPV", getAverageWeightPV, ns = "PureCN")

source(system.file("extdata", "PureCN.R", package = "PureCN"))

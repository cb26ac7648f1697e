# metcnv: MET copy number for a cohort of targeted-sequencing BAM/CRAM files.
# Settings: config/config.yaml and config/samples.tsv (see config/README.md).
#   snakemake --cores 4                                   # local
#   snakemake --profile profiles/slurm                    # SLURM cluster
#   snakemake --cores 2 --configfile config/example.yaml  # bundled example (tests/data)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/coverage.smk"
include: "workflow/rules/pon.smk"
include: "workflow/rules/call.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        get_final_outputs(),

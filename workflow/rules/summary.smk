rule summary:
    """Cohort table (its page in `snakemake --report`), cohort SEG file and one page per
    patient."""
    input:
        unpack(get_summary_input),
    output:
        tsv="results/summary/summary.tsv",
        html=report(
            "results/summary/summary.html",
            caption="../report/summary.rst",
            category="Cohort",
        ),
        seg="results/summary/cohort.seg",
    log:
        "logs/summary/summary.log",
    benchmark:
        "logs/summary/summary.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        outdir=subpath(output.tsv, parent=True),
    shell:
        "metcnv summary --out {params.outdir:q} --samples {input.sheet:q} {input.json:q}"
        " > {log:q} 2>&1"

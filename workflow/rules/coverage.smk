rule coverage:
    """Count reads per bin of one BAM/CRAM. Depends only on the reads, the bins and the
    read filters, so changing a calling threshold never recounts."""
    input:
        unpack(get_coverage_input),
    output:
        "results/coverage/{sample}.coverage.tsv.gz",
    log:
        "logs/coverage/{sample}.log",
    benchmark:
        "logs/coverage/{sample}.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        args=get_coverage_args,
    shell:
        "metcnv coverage {input.bam:q} --out {output:q} {params.args}"
        " --threads {threads} > {log:q} 2>&1"

rule coverage:
    """Count reads per bin of one BAM/CRAM (and, with `coverage.snps`, alleles at the SNPs
    in the bins, in the same pass). Depends only on the reads, the bins, the sites and the
    read filters, so changing a calling threshold never recounts."""
    input:
        unpack(get_coverage_input),
    output:
        **get_coverage_output(),
    log:
        "logs/coverage/{sample}.log",
    benchmark:
        "logs/coverage/{sample}.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        args=get_coverage_args,
    shell:
        "metcnv coverage {input.bam:q} --out {output.coverage:q} {params.args}"
        " --threads {threads} > {log:q} 2>&1"

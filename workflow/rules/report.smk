rule report:
    """One sample's HTML report (in `snakemake --report`), CNV VCF, IGV SEG file, MultiQC
    table and plot, and CNVkit .cnr/.cns."""
    input:
        "results/calls/{sample}/{sample}.metcnv.json",
    output:
        **get_report_pdf_output(),
        html=report(
            "results/reports/{sample}/{sample}.report.html",
            caption="../report/sample.rst",
            category="MET per sample",
            labels={"sample": "{sample}"},
        ),
        vcf="results/reports/{sample}/{sample}.cnv.vcf.gz",
        tbi="results/reports/{sample}/{sample}.cnv.vcf.gz.tbi",
        seg="results/reports/{sample}/{sample}.seg",
        multiqc="results/reports/{sample}/{sample}_mqc.tsv",
        multiqc_plot="results/reports/{sample}/{sample}_met_cn_mqc.tsv",
        cnr="results/reports/{sample}/{sample}.cnr",
        cns="results/reports/{sample}/{sample}.cns",
    log:
        "logs/report/{sample}.log",
    benchmark:
        "logs/report/{sample}.benchmark.tsv"
    conda:
        "../envs/metcnv.yaml"
    params:
        outdir=subpath(output.html, parent=True),
        args=get_report_args(),
    shell:
        "metcnv report {input:q} --out {params.outdir:q} {params.args} > {log:q} 2>&1"

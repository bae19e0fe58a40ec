"""Spark jobs of ddclab's application suite, run by spark-submit (local mode).

usage: spark-submit [spark options] jobs.py wordcount|sort|sql|als DATA_DIR

DATA_DIR is made by python/ddclab/apps/spark.py (generated, seeded). Every job
uses the DataFrame API, so the work runs in the JVM, and ends with one line
`OK <job> key=value ...` (results summarized into checksums; the same data give
the same line). Bad arguments: one line on stderr and exit 2.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import zlib


def _fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def _crc(rows) -> str:
    c = 0
    for r in rows:
        c = zlib.crc32(repr(tuple(r)).encode(), c)
    return f"{c:08x}"


def wordcount(spark, data: str) -> dict:
    from pyspark.sql import functions as F

    lines = spark.read.text(os.path.join(data, "text.txt"))
    words = lines.select(F.explode(F.split(F.col("value"), " ")).alias("word")).where(F.col("word") != "")
    counts = words.groupBy("word").count().cache()
    total = counts.agg(F.sum("count"), F.count("*")).collect()[0]
    top = counts.orderBy(F.desc("count"), "word").limit(20).collect()
    return {"words": int(total[0]), "distinct": int(total[1]), "top": top[0]["word"], "checksum": _crc(top)}


def sort(spark, data: str) -> dict:
    from pyspark.sql import functions as F

    recs = spark.read.text(os.path.join(data, "records.txt"))
    kv = recs.select(F.substring("value", 1, 10).alias("key"), F.substring("value", 12, 88).alias("payload"))
    out = tempfile.mkdtemp(prefix="ddclab-spark-sort-")
    try:
        kv.orderBy("key").write.mode("overwrite").option("sep", "\t").csv(os.path.join(out, "sorted"))
        # Check the output: as many records, and globally sorted (partition files in order).
        back = spark.read.option("sep", "\t").csv(os.path.join(out, "sorted")).toDF("key", "payload")
        n = back.count()
        parts = sorted(f for f in os.listdir(os.path.join(out, "sorted")) if f.startswith("part-"))
        prev, firsts = "", []
        for p in parts:
            with open(os.path.join(out, "sorted", p)) as f:
                keys = [ln.split("\t", 1)[0] for ln in f]
            if keys:
                if keys != sorted(keys) or keys[0] < prev:
                    raise RuntimeError(f"sort output not sorted in {p}")
                prev = keys[-1]
                firsts.append(keys[0])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"records": n, "first": firsts[0] if firsts else "", "last": prev, "checksum": _crc(firsts)}


def sql(spark, data: str) -> dict:
    from pyspark.sql.types import DateType, DoubleType, IntegerType, StringType, StructField, StructType

    rankings = StructType([StructField("pageURL", StringType()), StructField("pageRank", IntegerType()),
                           StructField("avgDuration", IntegerType())])
    uservisits = StructType([StructField(n, t) for n, t in [
        ("sourceIP", StringType()), ("destURL", StringType()), ("visitDate", DateType()), ("adRevenue", DoubleType()),
        ("userAgent", StringType()), ("countryCode", StringType()), ("languageCode", StringType()),
        ("searchWord", StringType()), ("duration", IntegerType())]])
    spark.read.schema(rankings).csv(os.path.join(data, "rankings.csv")).createOrReplaceTempView("rankings")
    spark.read.schema(uservisits).csv(os.path.join(data, "uservisits.csv")).createOrReplaceTempView("uservisits")
    # The Big Data Benchmark's queries 1B, 2B and 3B (middle parameter of each).
    q1 = spark.sql("SELECT pageURL, pageRank FROM rankings WHERE pageRank > 100").collect()
    q2 = spark.sql("SELECT SUBSTR(sourceIP, 1, 10) AS prefix, SUM(adRevenue) AS revenue FROM uservisits "
                   "GROUP BY SUBSTR(sourceIP, 1, 10)").collect()
    q3 = spark.sql("SELECT sourceIP, totalRevenue, avgPageRank FROM (SELECT UV.sourceIP, AVG(R.pageRank) AS avgPageRank, "
                   "SUM(UV.adRevenue) AS totalRevenue FROM rankings R JOIN uservisits UV ON R.pageURL = UV.destURL "
                   "WHERE UV.visitDate BETWEEN DATE '1980-01-01' AND DATE '1983-01-01' GROUP BY UV.sourceIP) "
                   "ORDER BY totalRevenue DESC, sourceIP LIMIT 1").collect()
    q2sum = round(sum(r["revenue"] for r in q2), 2)
    return {"q1_rows": len(q1), "q1": _crc(sorted(q1)), "q2_groups": len(q2), "q2_revenue": f"{q2sum:.2f}",
            "q3_ip": q3[0]["sourceIP"] if q3 else "", "q3_revenue": f"{q3[0]['totalRevenue']:.2f}" if q3 else ""}


def als(spark, data: str) -> dict:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql.types import IntegerType, StructField, StructType

    schema = StructType([StructField("user", IntegerType()), StructField("item", IntegerType()), StructField("rating", IntegerType())])
    ratings = spark.read.schema(schema).csv(os.path.join(data, "ratings.csv")).repartition(4, "user").cache()
    train, test = ratings.randomSplit([0.9, 0.1], seed=42)
    model = ALS(rank=10, maxIter=5, regParam=0.1, userCol="user", itemCol="item", ratingCol="rating", seed=42,
                coldStartStrategy="drop", numUserBlocks=4, numItemBlocks=4).fit(train)
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction").evaluate(model.transform(test))
    return {"ratings": ratings.count(), "rmse": f"{rmse:.3f}"}


JOBS = {"wordcount": wordcount, "sort": sort, "sql": sql, "als": als}


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in JOBS:
        _fail(f"usage: jobs.py {'|'.join(JOBS)} DATA_DIR")
    job, data = argv
    if not os.path.isfile(os.path.join(data, "meta.json")):
        _fail(f"{data}: not a generated data directory (no meta.json)")
    from pyspark.sql import SparkSession

    t0 = time.monotonic()
    spark = SparkSession.builder.appName(f"ddclab-{job}").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        res = JOBS[job](spark, data)
    finally:
        spark.stop()
    meta = json.load(open(os.path.join(data, "meta.json")))
    print(f"OK {job} " + " ".join(f"{k}={v}" for k, v in res.items())
          + f" input={'/'.join(str(meta[k]) for k in sorted(meta))} seconds={time.monotonic() - t0:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])

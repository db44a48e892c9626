//! `nocopy`: NumPy-compatible statistics over `.npy` and `.npz` files, memory-mapped and read in
//! place through nocopy-core's gate.

mod report;

use nocopy_cli::load;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

/// `--threads` at most: nocopy-core's bound.
const MAX_THREADS: i64 = nocopy_core::pool::MAX_THREADS as i64;

/// Fast statistics over .npy files, read in place (memory-mapped) whenever that is safe.
#[derive(Parser, Debug)]
#[command(name = "nocopy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show an array's header, dtype, shape and order, and whether it is read in place (and why not).
    Inspect {
        /// A .npy file, or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Count, mean, std, min, max and var in one pass, overall or along an axis.
    Describe {
        /// A .npy file, or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// Reduce along this axis only (negative counts from the end); default: every element.
        #[arg(long, allow_negative_numbers = true)]
        axis: Option<isize>,
        /// Delta degrees of freedom of the variance (divisor N - ddof).
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        ddof: f64,
        /// Ignore NaN values instead of propagating them.
        #[arg(long)]
        skipna: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// A moving-window statistic (bottleneck's move_*) along an axis, written to a .npy file.
    Move {
        /// The statistic.
        func: MoveFunc,
        /// A .npy file, or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// Values in each window.
        #[arg(long, allow_negative_numbers = true)]
        window: i64,
        /// Fewest non-NaN values a window needs for a result (default: the window).
        #[arg(long, allow_negative_numbers = true)]
        min_count: Option<i64>,
        /// The axis the window moves along (negative counts from the end).
        #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
        axis: isize,
        /// Delta degrees of freedom of var and std (divisor N - ddof).
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        ddof: f64,
        /// The .npy file to write (float32 for float32 input, else float64).
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// A histogram (NumPy's bins and counts) drawn in the terminal, or as JSON.
    Hist {
        /// A .npy file, or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// Number of equal-width bins.
        #[arg(long, default_value_t = 10, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
        bins: u32,
        /// The lower and upper edge (default: the data's minimum and maximum).
        #[arg(long, num_args = 2, value_names = ["LO", "HI"], allow_negative_numbers = true)]
        range: Option<Vec<f64>>,
        /// Print JSON (edges and counts) instead of bars.
        #[arg(long)]
        json: bool,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// Quantiles (NumPy's quantile, by selection), overall or along an axis.
    Quantile {
        /// A .npy file, or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// Quantiles in [0, 1], separated by commas.
        #[arg(short, long, value_delimiter = ',', required = true, allow_negative_numbers = true)]
        q: Vec<f64>,
        /// Take quantiles along this axis only; default: over every element.
        #[arg(long, allow_negative_numbers = true)]
        axis: Option<isize>,
        /// NumPy's method: linear, lower, higher, nearest or midpoint.
        #[arg(long, default_value = "linear")]
        method: String,
        /// Ignore NaN (nanquantile) instead of giving NaN.
        #[arg(long)]
        skipna: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// Distances between the rows of two tables (scipy's cdist), written to a .npy file.
    Cdist {
        /// The first table (.npy, or NAME.npz:ARRAY).
        a: String,
        /// The second table, with as many columns.
        b: String,
        /// euclidean, sqeuclidean, cosine, cityblock, chebyshev or minkowski.
        #[arg(long, default_value = "euclidean")]
        metric: String,
        /// The order of minkowski.
        #[arg(long, default_value_t = 2.0, allow_negative_numbers = true)]
        p: f64,
        /// The .npy file to write (float32 when both tables are float32, else float64).
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// The k nearest base rows of each query row (exact), written to an .npz file with the
    /// arrays `distances` and `indices`; a progress bar on stderr for runs over a second.
    Knn {
        /// The base table (.npy, or NAME.npz:ARRAY).
        base: String,
        /// The query table, with as many columns.
        queries: String,
        /// Neighbours per query.
        #[arg(short, long, allow_negative_numbers = true)]
        k: usize,
        /// sqeuclidean, euclidean, cosine, cityblock or ip (largest inner product first).
        #[arg(long, default_value = "sqeuclidean")]
        metric: String,
        /// The .npz file to write.
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// k-means clustering of the rows of a table (scikit-learn's KMeans with k-means++ starts):
    /// the centres to a .npy file, the labels optionally to another; progress (iteration,
    /// inertia) on stderr and a one-line summary.
    Kmeans {
        /// A 2-d .npy file, or NAME.npz:ARRAY.
        file: String,
        /// The number of clusters.
        #[arg(short, long, allow_negative_numbers = true)]
        k: usize,
        /// Runs from different k-means++ starts; the one of least inertia is kept.
        #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
        n_init: u32,
        /// Iterations per run.
        #[arg(long, default_value_t = 300, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..))]
        max_iter: u32,
        /// Convergence when the centres move at most this times the mean column variance.
        #[arg(long, default_value_t = 1e-4, allow_negative_numbers = true)]
        tol: f64,
        /// Seed of the k-means++ draws.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        seed: u64,
        /// The .npy file of the centres (float32 for float32 input, else float64).
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// A .npy file for the label of each row (int32).
        #[arg(long)]
        labels: Option<std::path::PathBuf>,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
    /// Scale each column of a table (scikit-learn's scale, or minmax_scale), written to a .npy file.
    Scale {
        /// A .npy file (1-d or 2-d), or NAME.npz:ARRAY for one array of an .npz archive.
        file: String,
        /// The .npy file to write (float32 for float32 input, else float64).
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Map each feature onto --feature-range instead of standardizing it.
        #[arg(long)]
        minmax: bool,
        /// The target range of --minmax.
        #[arg(long, num_args = 2, value_names = ["LO", "HI"], default_values_t = [0.0, 1.0], allow_negative_numbers = true)]
        feature_range: Vec<f64>,
        /// 0 scales columns (features), 1 rows.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        axis: usize,
        /// Delta degrees of freedom of the standard deviation.
        #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
        ddof: f64,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
        threads: Option<u32>,
    },
}

/// The statistics `nocopy move` computes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum MoveFunc {
    Sum,
    Mean,
    Var,
    Std,
    Min,
    Max,
    Argmin,
    Argmax,
    Median,
    Rank,
}

impl MoveFunc {
    fn op(self, ddof: f64) -> nocopy_core::MoveOp {
        use nocopy_core::MoveOp;
        match self {
            MoveFunc::Sum => MoveOp::Sum,
            MoveFunc::Mean => MoveOp::Mean,
            MoveFunc::Var => MoveOp::Var(ddof),
            MoveFunc::Std => MoveOp::Std(ddof),
            MoveFunc::Min => MoveOp::Min,
            MoveFunc::Max => MoveOp::Max,
            MoveFunc::Argmin => MoveOp::ArgMin,
            MoveFunc::Argmax => MoveOp::ArgMax,
            MoveFunc::Median => MoveOp::Median,
            MoveFunc::Rank => MoveOp::Rank,
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let threads = match &cli.command {
        Command::Inspect { .. } => None,
        Command::Describe { threads, .. }
        | Command::Move { threads, .. }
        | Command::Hist { threads, .. }
        | Command::Quantile { threads, .. }
        | Command::Scale { threads, .. }
        | Command::Cdist { threads, .. }
        | Command::Knn { threads, .. }
        | Command::Kmeans { threads, .. } => *threads,
    };
    if let Some(n) = threads {
        nocopy_core::pool::set_num_threads(n as usize)?;
    }
    match cli.command {
        Command::Inspect { file, json } => {
            let array = load::open(&file)?;
            report::inspect(&file, &array, json)
        }
        Command::Describe { file, axis, ddof, skipna, json, .. } => {
            let array = load::open(&file)?;
            report::describe(&file, &array, axis, ddof, skipna, json)
        }
        Command::Move { func, file, window, min_count, axis, ddof, output, .. } => {
            let array = load::open(&file)?;
            let w = nocopy_core::Window { window, min_count, axis };
            report::moving(&array, func.op(ddof), &w, &output)
        }
        Command::Hist { file, bins, range, json, .. } => {
            let array = load::open(&file)?;
            let range = range.map(|r| (r[0], r[1]));
            report::hist(&file, &array, bins as usize, range, json)
        }
        Command::Quantile { file, q, axis, method, skipna, json, .. } => {
            let array = load::open(&file)?;
            let method = nocopy_core::quantile::Method::from_name(&method).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown method {method:?}: use linear, lower, higher, nearest or midpoint"
                )
            })?;
            report::quantile(&file, &array, &q, axis, method, skipna, json)
        }
        Command::Cdist { a, b, metric, p, output, .. } => {
            let metric = nocopy_core::distance::Metric::from_name(&metric, p)?;
            report::cdist(&load::open(&a)?, &load::open(&b)?, metric, &output)
        }
        Command::Knn { base, queries, k, metric, output, .. } => {
            let metric = if metric == "ip" {
                nocopy_core::distance::Metric::NegInnerProduct
            } else {
                nocopy_core::distance::Metric::from_name(&metric, 2.0)?
            };
            report::knn(&load::open(&base)?, &load::open(&queries)?, k, metric, &output)
        }
        Command::Kmeans { file, k, n_init, max_iter, tol, seed, output, labels, .. } => {
            let settings = nocopy_core::kmeans::Settings {
                n_init: n_init as usize,
                max_iter: max_iter as usize,
                tol,
            };
            report::kmeans(&load::open(&file)?, k, &settings, seed, &output, labels.as_deref())
        }
        Command::Scale { file, output, minmax, feature_range, axis, ddof, .. } => {
            let array = load::open(&file)?;
            let how = if minmax {
                nocopy_core::scale::Scaling::MinMax { lo: feature_range[0], hi: feature_range[1] }
            } else {
                nocopy_core::scale::Scaling::Standard { ddof, with_mean: true, with_std: true }
            };
            report::scale(&array, &how, axis, &output)
        }
    }
}

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's own convention); --help and --version with 0.
    let cli = Cli::parse();
    // A bug must still end in one line and exit code 1, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("nocopy: internal error: {msg}");
    }));
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("nocopy: {e:#}");
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(1),
    }
}

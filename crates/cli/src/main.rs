//! `nocopy`: NumPy-compatible statistics over `.npy` and `.npz` files, memory-mapped and read in
//! place through nocopy-core's gate.

mod load;
mod report;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

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
        #[arg(long, default_value_t = 0.0)]
        ddof: f64,
        /// Ignore NaN values instead of propagating them.
        #[arg(long)]
        skipna: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
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
        #[arg(long, default_value_t = 0.0)]
        ddof: f64,
        /// The .npy file to write (float32 for float32 input, else float64).
        #[arg(short, long)]
        output: std::path::PathBuf,
        /// Number of threads (default: NOCOPY_NUM_THREADS, else every CPU).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
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
    match cli.command {
        Command::Inspect { file, json } => {
            let array = load::open(&file)?;
            report::inspect(&file, &array, json)
        }
        Command::Describe { file, axis, ddof, skipna, json, threads } => {
            if let Some(n) = threads {
                nocopy_core::pool::set_num_threads(n as usize)?;
            }
            let array = load::open(&file)?;
            report::describe(&file, &array, axis, ddof, skipna, json)
        }
        Command::Move { func, file, window, min_count, axis, ddof, output, threads } => {
            if let Some(n) = threads {
                nocopy_core::pool::set_num_threads(n as usize)?;
            }
            let array = load::open(&file)?;
            let w = nocopy_core::Window { window, min_count, axis };
            report::moving(&array, func.op(ddof), &w, &output)
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

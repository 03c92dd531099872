//! The pieces of a mask: groups of marked pixels joined through their four neighbours, and which
//! of them is the main one (the lesion). The doubt ([`crate::doubt`]) counts what lies outside
//! the main piece; the islands rule ([`crate::islands`]) can remove it.

/// An inner piece (one that does not touch the frame's edge) becomes the main piece only when it
/// has at least this share of the largest piece's pixels: a speck inside is not the lesion.
/// Anything from 0.02 to 0.08 gives the same figures on the real photos measured.
pub const INNER_PIECE_SHARE: f64 = 0.05;

/// The pieces of a mask: groups of marked pixels (any class but 0) joined through their four
/// neighbours. Kept as runs of marked pixels along rows, each run tied to the piece it belongs to,
/// so that memory follows the outline, not the image (a 4288×2848 photo is 12 million pixels).
pub(crate) struct Pieces {
    /// Runs of marked pixels: `[start, end)` indices into the mask, row by row.
    pub(crate) runs: Vec<(usize, usize)>,
    /// Per run, a run of the same piece (union-find; a root points to itself).
    parent: Vec<usize>,
    /// Per root run: its piece's pixel count and which sides of the frame it touches (bits:
    /// top, bottom, left, right).
    pieces: Vec<(usize, u8)>,
}

impl Pieces {
    /// The pieces of `mask`, `width` pixels wide.
    pub(crate) fn of(mask: &[u8], width: usize) -> Self {
        let width = width.max(1);
        let height = mask.len() / width;
        let mut runs = Vec::new();
        let mut parent: Vec<usize> = Vec::new();
        // Runs of the previous row, `[first, end)` indices into `runs`.
        let mut previous = 0..0;
        for y in 0..height {
            let first = runs.len();
            let mut next_above = previous.start;
            let row = &mask[y * width..(y + 1) * width];
            let mut x = 0;
            while x < width {
                if row[x] == 0 {
                    x += 1;
                    continue;
                }
                let start = x;
                while x < width && row[x] != 0 {
                    x += 1;
                }
                let run = runs.len();
                runs.push((y * width + start, y * width + x));
                parent.push(run);
                // Join every run of the row above that shares a column with this one (both rows'
                // runs are in order: the ones ending before this one starts are passed for good).
                let above = |r: usize| (runs[r].0 - (y - 1) * width, runs[r].1 - (y - 1) * width);
                while next_above < previous.end && above(next_above).1 <= start {
                    next_above += 1;
                }
                let mut k = next_above;
                while k < previous.end && above(k).0 < x {
                    let (ra, rb) = (root(&mut parent, k), root(&mut parent, run));
                    parent[ra.max(rb)] = ra.min(rb);
                    k += 1;
                }
            }
            previous = first..runs.len();
        }
        let mut pieces = vec![(0usize, 0u8); runs.len()];
        for (run, &(start, end)) in runs.iter().enumerate() {
            let (y, x0, x1) = (start / width, start % width, (end - 1) % width);
            let r = root(&mut parent, run);
            pieces[r].0 += end - start;
            pieces[r].1 |= (y == 0) as u8
                | ((y + 1 == height) as u8) << 1
                | ((x0 == 0) as u8) << 2
                | ((x1 + 1 == width) as u8) << 3;
        }
        Self {
            runs,
            parent,
            pieces,
        }
    }

    /// The root run of `run`'s piece (after [`Pieces::of`], every run points at its root).
    pub(crate) fn piece_of(&self, run: usize) -> usize {
        self.parent[run]
    }

    /// The pixel count of the piece whose root run is `root`.
    pub(crate) fn size(&self, root: usize) -> usize {
        self.pieces[root].0
    }

    /// Whether the piece whose root run is `root` touches the frame's edge.
    pub(crate) fn touches_frame(&self, root: usize) -> bool {
        self.pieces[root].1 != 0
    }

    /// See [`main_piece`]: the root run of the main piece.
    pub(crate) fn main(&self) -> Option<usize> {
        let roots: Vec<usize> = (0..self.runs.len())
            .filter(|&r| self.parent[r] == r)
            .collect();
        let sizes: Vec<(usize, u8)> = roots.iter().map(|&r| self.pieces[r]).collect();
        main_piece(&sizes).map(|i| roots[i])
    }
}

/// The root of `run` in the union-find `parent`, flattening the path to it.
fn root(parent: &mut [usize], run: usize) -> usize {
    let mut r = run;
    while parent[r] != r {
        r = parent[r];
    }
    let mut i = run;
    while parent[i] != r {
        let next = parent[i];
        parent[i] = r;
        i = next;
    }
    r
}

/// The mask's main piece among `pieces` (pixel count, sides of the frame touched as bits), the
/// one taken for the lesion; every marked pixel outside it is doubtful. A lesion is one piece,
/// photographed whole and near the middle, so the main piece is the largest piece that does not
/// touch the frame's edge, if it has at least [`INNER_PIECE_SHARE`] of the largest piece's pixels;
/// else the largest piece that does not touch all four sides of the frame (a lesion cut by the
/// frame, as in close-ups); else none (skin marked wholesale: the whole mask is doubtful).
/// A sticker or the dermatoscope's dark corner marked at the edge, next to a lesion marked inside,
/// is then doubtful, and so is skin marked around the lesion when it reaches all four sides.
pub(crate) fn main_piece(pieces: &[(usize, u8)]) -> Option<usize> {
    let largest = pieces.iter().map(|p| p.0).max()?;
    let biggest = |keep: &dyn Fn(usize, u8) -> bool| {
        (0..pieces.len())
            .filter(|&i| keep(pieces[i].0, pieces[i].1))
            .max_by_key(|&i| (pieces[i].0, std::cmp::Reverse(i)))
    };
    biggest(&|size, sides| sides == 0 && size as f64 >= INNER_PIECE_SHARE * largest as f64)
        .or_else(|| biggest(&|_, sides| sides != 0b1111))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mask from rows of `#` (marked) and `.`; its width.
    fn mask_of(rows: &[&str]) -> (Vec<u8>, usize) {
        let mask = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| (b == b'#') as u8))
            .collect();
        (mask, rows[0].len())
    }

    /// Piece sizes (sorted) by a plain flood fill over four neighbours.
    fn flood_sizes(mask: &[u8], width: usize) -> Vec<usize> {
        let height = mask.len() / width;
        let mut seen = vec![false; mask.len()];
        let mut sizes = Vec::new();
        for start in 0..mask.len() {
            if mask[start] == 0 || seen[start] {
                continue;
            }
            let (mut stack, mut size) = (vec![start], 0);
            seen[start] = true;
            while let Some(i) = stack.pop() {
                size += 1;
                let (x, y) = (i % width, i / width);
                let mut near = Vec::new();
                if x > 0 {
                    near.push(i - 1);
                }
                if x + 1 < width {
                    near.push(i + 1);
                }
                if y > 0 {
                    near.push(i - width);
                }
                if y + 1 < height {
                    near.push(i + width);
                }
                for j in near {
                    if mask[j] != 0 && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            sizes.push(size);
        }
        sizes.sort_unstable();
        sizes
    }

    fn piece_sizes(mask: &[u8], width: usize) -> Vec<usize> {
        let pieces = Pieces::of(mask, width);
        let mut sizes: Vec<usize> = (0..pieces.runs.len())
            .filter(|&r| pieces.parent[r] == r)
            .map(|r| pieces.pieces[r].0)
            .collect();
        sizes.sort_unstable();
        sizes
    }

    #[test]
    fn pieces_are_those_of_a_flood_fill() {
        // A U joined only by its last row, a W, and a spiral: runs that meet late.
        let (mask, width) = mask_of(&["#.#.#.#", "#.#.#.#", "###.###", "#.....#", "#######"]);
        assert_eq!(piece_sizes(&mask, width), vec![23]);
        let (mask, width) = mask_of(&["#.#", "#.#", "###", "...", "#.#"]);
        assert_eq!(piece_sizes(&mask, width), vec![1, 1, 7]);
        // Random masks of every density.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for case in 0..200 {
            let (width, height) = (1 + case % 23, 1 + case % 17);
            let density = (case % 10) as u64;
            let mask: Vec<u8> = (0..width * height)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state % 10 < density) as u8
                })
                .collect();
            assert_eq!(
                piece_sizes(&mask, width),
                flood_sizes(&mask, width),
                "case {case}"
            );
        }
    }
}

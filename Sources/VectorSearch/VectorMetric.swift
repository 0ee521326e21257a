/// How a collection compares vectors. Every metric ranks "higher is nearer"
/// inside the scan; `VectorMatrix.Hit.score` reports each in its usual form.
public enum VectorMetric: String, CaseIterable, Sendable {
    /// Cosine similarity, -1…1: vectors are normalized when stored, so a
    /// search is a dot product.
    case cosine
    /// The raw inner product (for embeddings made to be compared that way).
    case dot
    /// Euclidean distance, reported as such (lower is nearer).
    case l2
}
